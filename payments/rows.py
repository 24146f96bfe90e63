"""Rows inserted on hot paths without the ORM's per-statement building.

`Model.objects.create()` builds an InsertQuery, compiles it to the same SQL text on every call and
sends save signals nobody here listens to: on the booking path (five inserts) that was a fifth of
an order's CPU (bench/booking.py). `insert()` keeps what matters, the model's defaults (from the
instance), each field's own conversion to the database's value (`pre_save`, `get_db_prep_save`)
and the new id (RETURNING), and builds each model's statement text once per process.

Only for models without save signal receivers or a custom `save()`; none of those it is used for
(ticketing's orders, lines and events, the idempotency record) has either.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import AutoField, BigAutoField, Field, Model, SmallAutoField

_AUTO = (AutoField, BigAutoField, SmallAutoField)
_statements: dict[tuple[type[Model], str], tuple[str, list[Field], bool]] = {}


def _statement(model: type[Model], alias: str) -> tuple[str, list[Field], bool]:
    key = (model, alias)
    if key not in _statements:
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not isinstance(f, _AUTO)]
        returning = connection.features.can_return_columns_from_insert
        sql = "INSERT INTO {} ({}) VALUES ({}){}".format(  # noqa: S608 (names from the model)
            quote(meta.db_table),
            ", ".join(quote(f.column) for f in fields),
            ", ".join(["%s"] * len(fields)),
            f" RETURNING {quote(meta.pk.column)}" if returning else "",
        )
        _statements[key] = (sql, fields, returning)
    return _statements[key]


def insert(obj: Model, using: str = "default") -> Model:
    """INSERT `obj` (every concrete column but an automatic primary key) and set its pk."""
    sql, fields, returning = _statement(type(obj), using)
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using
    return obj
