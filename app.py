"""Dashboard entry point: `python app.py [--host H] [--port P]`, or WSGI `app:server`."""

from roofline.dashboard.app import create_app, main

app = create_app()
server = app.server  # for WSGI servers: `waitress-serve app:server`, `gunicorn app:server`

if __name__ == "__main__":
    main(app=app)
