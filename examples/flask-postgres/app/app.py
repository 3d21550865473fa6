"""A small Flask app that stores and lists notes in PostgreSQL."""

import os

import psycopg
from flask import Flask, jsonify, redirect, render_template_string, request

app = Flask(__name__)

PAGE = """<!doctype html>
<title>Notes</title>
<h1>Notes</h1>
<form method="post" action="/notes"><input name="text" autofocus><button>Add</button></form>
<ul>{% for n in notes %}<li>{{ n.text }} <small>{{ n.created }}</small></li>{% endfor %}</ul>
"""


def connect():
    return psycopg.connect(
        host=os.environ.get("DB_HOST", "db"),
        dbname=os.environ.get("DB_NAME", "notes"),
        user=os.environ.get("DB_USER", "notes"),
        password=os.environ["DB_PASSWORD"],
        connect_timeout=5,
    )


def ensure_table():
    with connect() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS notes ("
            " id serial PRIMARY KEY, text text NOT NULL,"
            " created timestamptz NOT NULL DEFAULT now())"
        )


def all_notes():
    with connect() as conn:
        rows = conn.execute("SELECT id, text, created FROM notes ORDER BY id").fetchall()
    return [{"id": r[0], "text": r[1], "created": r[2].isoformat()} for r in rows]


@app.get("/")
def index():
    ensure_table()
    return render_template_string(PAGE, notes=all_notes())


@app.get("/api/notes")
def list_notes():
    ensure_table()
    return jsonify(all_notes())


@app.post("/notes")
@app.post("/api/notes")
def add_note():
    ensure_table()
    text = (request.get_json(silent=True) or {}).get("text") or request.form.get("text", "")
    if not text.strip():
        return jsonify(error="text is required"), 400
    with connect() as conn:
        row = conn.execute(
            "INSERT INTO notes (text) VALUES (%s) RETURNING id", (text.strip(),)
        ).fetchone()
    if request.path.startswith("/api/"):
        return jsonify(id=row[0], text=text.strip()), 201
    return redirect("/")


@app.get("/healthz")
def healthz():
    with connect() as conn:
        conn.execute("SELECT 1")
    return "ok\n"
