"""The ``contact-sync`` command line."""

import inspect
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import redis
import typer

from shared.redis_client import RedisUrlError, describe_redis_error
from shared.settings import get_settings


def _redis_url() -> str | None:
    try:
        return get_settings().redis_url
    except ValueError:  # the settings' own error is the command's to report
        return None


class ContactSyncApp(typer.Typer):
    """The app, with one clean line (exit 2) instead of a traceback when ``REDIS_URL`` is
    unusable or its Redis stops answering in the middle of any command."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except (redis.RedisError, RedisUrlError) as error:
            typer.secho(f"Error: {describe_redis_error(error, _redis_url())}",
                        err=True, fg=typer.colors.RED)
            raise SystemExit(2) from None


app = ContactSyncApp(
    help="contact-sync: keeps a CRM's contacts in Klaviyo and brings list sign-ups back.",
    no_args_is_help=True,
    # A traceback's locals could hold a key or a contact: never print them.
    pretty_exceptions_show_locals=False,
)



def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            found = version("contact-sync")
        except PackageNotFoundError:  # run from a tree that is not installed
            found = "unknown"
        typer.echo(f"contact-sync {found}")
        raise typer.Exit()


@app.callback()
def _options(show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """contact-sync: keeps a CRM's contacts in Klaviyo and brings list sign-ups back."""
    get_settings.cache_clear()  # each command reads the environment once, as it starts


from cli.accounts_cmd import accounts_app  # noqa: E402
from cli.healthcheck_cmd import healthcheck  # noqa: E402
from cli.oauth_cmd import register as register_oauth  # noqa: E402
from cli.process_cmds import collector, scheduler, sync_now  # noqa: E402

register_oauth(accounts_app)
app.add_typer(accounts_app, name="accounts")
app.command("collector")(collector)
app.command("scheduler")(scheduler)
app.command("sync-now")(sync_now)
app.command("healthcheck")(healthcheck)

from cli.run_cmd import run  # noqa: E402

app.command("run")(run)

from cli.dlq_cmd import dlq_app  # noqa: E402

app.add_typer(dlq_app, name="dlq")

from cli.rejected_cmd import rejected_app  # noqa: E402

app.add_typer(rejected_app, name="rejected")

from cli.status_cmd import status  # noqa: E402

app.command("status")(status)

from cli.import_cmd import import_file_cmd  # noqa: E402
from cli.web_cmd import web  # noqa: E402

app.command("web")(web)
app.command("import")(import_file_cmd)

from cli.sandbox_cmd import sandbox  # noqa: E402

app.command("sandbox")(sandbox)

from cli.preview_cmd import preview_cmd  # noqa: E402

app.command("preview")(preview_cmd)

from cli.demo_cmd import demo  # noqa: E402

app.command("demo")(demo)

from cli.lists_cmd import lists_app  # noqa: E402

app.add_typer(lists_app, name="lists")


def _one_line_paragraphs(text: str) -> str:
    """Docstring paragraphs as single lines: rich keeps a docstring's line breaks, which
    then fall mid-sentence once it wraps the text to the terminal's width."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") or "\n- " in p else " ".join(p.split("\n"))
                       for p in paragraphs)


def _unwrap_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        text = command.help or (command.callback.__doc__ if command.callback else None)
        if text:
            command.help = _one_line_paragraphs(text)
    for group in typer_app.registered_groups:
        instance = group.typer_instance
        if instance is None:
            continue
        if instance.info.help and isinstance(instance.info.help, str):
            instance.info.help = _one_line_paragraphs(instance.info.help)
        _unwrap_help(instance)


_unwrap_help(app)
