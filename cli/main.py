"""The ``contact-sync`` command line."""

import typer

app = typer.Typer(
    help="contact-sync: keeps a CRM's contacts in Klaviyo and brings list sign-ups back.",
    no_args_is_help=True,
)
