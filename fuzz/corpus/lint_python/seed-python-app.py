"""Fixture: Python decorators checked against the registry."""
from app.features import Feature
from app.web import app, route, task


@app.route("/messages", methods=["POST"], feature=Feature.MESSAGING)
def send_message():
    ...


@route("GET", "/messages/<id>", feature=Feature.MESAGE_EDIT)
def edit_message(id):
    ...


@route("GET", "/typing")
def typing():
    ...


@task
def expire():
    ...


@task(feature=Feature.GIFT_LINKS)
def old_gifts():
    ...


@other(feature=Feature.NOT_CHECKED)
def unrelated():
    ...
