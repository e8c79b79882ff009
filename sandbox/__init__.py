"""The Klaviyo sandbox: a local emulator of Klaviyo's profiles, lists and consent API.

It stands alone (nothing from shared/, producers/, workers/ or cli/). Entry points:
``sandbox.server.SandboxServer`` (a background uvicorn server on a free port),
``sandbox.app.create_app`` (the ASGI app), ``sandbox.inspect_client.SandboxClient`` (the
``/__sandbox/`` inspection API), and the ``contact-sync sandbox`` command.
"""
