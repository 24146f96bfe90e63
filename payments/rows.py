"""Rows inserted on hot paths without the ORM's per-statement building.

`Model.objects.create()` builds an InsertQuery, compiles it to the same SQL text on every call and
sends save signals nobody here listens to: on the booking path (four inserts) that was a fifth of
an order's CPU (bench/booking.py). `insert()` keeps what matters, the model's defaults (from the
instance), each field's own conversion to the database's value (`pre_save`, `get_db_prep_save`)
and the new id (RETURNING), and builds each model's statement text once per process.
`insert_many()` sends a batch of rows of one model in one executemany (the poller's audit rows).

Only for models without save signal receivers or a custom `save()`; none of those it is used for
(ticketing's orders, lines and events, the idempotency record) has either.

`select()` is the same for the booking path's two reads (the slot with its attraction, the ticket
types on sale) and for the poller's claimed payments: equality filters and a list of ids, at most
one foreign key followed, every column, and each column's value converted back as a QuerySet would
(the backend's and the field's converters), into instances made by `Model.from_db`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import AutoField, BigAutoField, Field, Model, SmallAutoField
from django.db.models.constants import OnConflict

_AUTO = (AutoField, BigAutoField, SmallAutoField)
_statements: dict[tuple[type[Model], str, bool, bool], tuple[str, list[Field], bool]] = {}


def _statement(
    model: type[Model], alias: str, skip: bool, want_pk: bool = True
) -> tuple[str, list[Field], bool]:
    key = (model, alias, skip, want_pk)
    if key not in _statements:
        connection = connections[alias]
        ops, quote = connection.ops, connection.ops.quote_name
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not isinstance(f, _AUTO)]
        returning = want_pk and connection.features.can_return_columns_from_insert
        on_conflict = OnConflict.IGNORE if skip else None
        sql = "{} {} ({}) VALUES ({}) {} {}".format(
            ops.insert_statement(on_conflict=on_conflict),
            quote(meta.db_table),
            ", ".join(quote(f.column) for f in fields),
            ", ".join(["%s"] * len(fields)),
            ops.on_conflict_suffix_sql(fields, on_conflict, None, None),
            f"RETURNING {quote(meta.pk.column)}" if returning else "",
        )
        _statements[key] = (" ".join(sql.split()), fields, returning)
    return _statements[key]


def insert(obj: Model, using: str = "default", *, skip_conflict: bool = False) -> Model | None:
    """INSERT `obj` (every concrete column but an automatic primary key) and set its pk.

    `skip_conflict`: a row breaking a unique constraint is not inserted (ON CONFLICT DO NOTHING;
    SQLite's INSERT OR IGNORE also skips a NOT NULL or CHECK violation) and None is answered,
    with no error, so a transaction around it goes on without a savepoint.
    """
    sql, fields, returning = _statement(type(obj), using, skip_conflict)
    connection = connections[using]
    params = _values(obj, fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            row = cursor.fetchone()
            pk = row[0] if row else None
        else:
            pk = cursor.lastrowid if cursor.rowcount else None
    if pk is None:
        return None
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using
    return obj


def insert_many(objs: list[Model], using: str = "default") -> None:
    """INSERT every object (all of one model) with one executemany: `insert()` for a batch,
    except that their pks are not read back (no RETURNING) and stay unset."""
    if not objs:
        return
    sql, fields, _returning = _statement(type(objs[0]), using, False, want_pk=False)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.executemany(sql, [_values(obj, fields, connection) for obj in objs])


def _values(obj: Model, fields: list[Field], connection) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


_Part = tuple[type[Model], list[str], list[tuple[int, list[Callable], Any]]]
_selects: dict[tuple, tuple[str, list[_Part], list[Field]]] = {}


def _columns(model: type[Model], table: str, connection) -> _Part:
    """The model's columns and, for those that need it, the converters a QuerySet applies."""
    fields = list(model._meta.concrete_fields)
    conversions = []
    for index, f in enumerate(fields):
        column = f.get_col(table)
        chain = connection.ops.get_db_converters(column) + f.get_db_converters(connection)
        if chain:
            conversions.append((index, chain, column))
    return model, [f.attname for f in fields], conversions


def _select_statement(model, where, join, join_where, alias):
    key = (model, tuple(where), join, tuple(join_where), alias)
    if key not in _selects:
        connection = connections[alias]
        quote = connection.ops.quote_name
        parts = [_columns(model, "t0", connection)]
        tables = f"{quote(model._meta.db_table)} t0"
        filters = [(f"t0.{quote(model._meta.get_field(n).column)}", model._meta.get_field(n))
                   for n in where]  # fmt: skip
        if join:
            fk = model._meta.get_field(join)
            related = fk.related_model
            parts.append(_columns(related, "t1", connection))
            tables += (
                f" INNER JOIN {quote(related._meta.db_table)} t1"
                f" ON t1.{quote(fk.target_field.column)} = t0.{quote(fk.column)}"
            )
            filters += [(f"t1.{quote(related._meta.get_field(n).column)}",
                         related._meta.get_field(n)) for n in join_where]  # fmt: skip
        columns = ", ".join(
            f"t{index}.{quote(f.column)}"
            for index, part in enumerate(parts)
            for f in part[0]._meta.concrete_fields
        )
        condition = " AND ".join(f"{column} = %s" for column, _f in filters) or "1 = 1"
        sql = f"SELECT {columns} FROM {tables} WHERE {condition}"  # noqa: S608 (model names)
        _selects[key] = (sql, parts, [f for _column, f in filters])
    return _selects[key]


def _instance(part: _Part, values: list[Any], alias: str, connection) -> Model:
    model, attnames, conversions = part
    for index, chain, column in conversions:
        for convert in chain:
            values[index] = convert(values[index], column, connection)
    return model.from_db(alias, attnames, values)


def select(
    model: type[Model],
    where: dict[str, Any],
    *,
    join: str = "",
    join_where: dict[str, Any] | None = None,
    pks: list[int] | None = None,
    using: str = "default",
) -> list[Model]:
    """`model.objects.filter(**where)` (with `select_related(join)` and `join__name=value` for
    `join_where`, and `pk__in=pks` when given), every column, no ordering: as model instances."""
    join_where = join_where or {}
    sql, parts, filter_fields = _select_statement(model, list(where), join, list(join_where), using)
    connection = connections[using]
    params = [
        f.get_db_prep_value(value, connection)
        for f, value in zip(filter_fields, [*where.values(), *join_where.values()], strict=True)
    ]
    if pks is not None:
        if not pks:
            return []
        column = connection.ops.quote_name(model._meta.pk.column)
        sql += f" AND t0.{column} IN ({', '.join(['%s'] * len(pks))})"
        params += [int(pk) for pk in pks]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        row = list(row)
        width = len(parts[0][1])
        obj = _instance(parts[0], row[:width], using, connection)
        if join:
            setattr(obj, join, _instance(parts[1], row[width:], using, connection))
        found.append(obj)
    return found
