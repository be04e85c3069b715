"""The WSGI entry point for gunicorn (Procfile `web`)."""
from helpline import create_app

app = create_app()
