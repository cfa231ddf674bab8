"""
Rows by a long list of ids: on PostgreSQL as one array parameter
(`= ANY(%s)`), not a placeholder each, for searches that list their matches
and digests that read back the rows they counted.
"""

from django.db import connection, models
from django.db.models import Lookup, Q


class AnyOf(Lookup):
    """`id = ANY(%s)`: thousands of ids as one array parameter, not a placeholder each."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, sorted(self.rhs)]


models.BigAutoField.register_lookup(AnyOf)
models.ForeignKey.register_lookup(AnyOf)


def having_ids(ids, field: str = "pk") -> Q:
    """Rows whose `field` (the primary key, or a foreign key) is one of `ids`: one array parameter on PostgreSQL."""
    if connection.vendor == "postgresql":
        # A frozenset, not a list: the ORM would look into each item of a list for an expression.
        return Q(**{f"{field}__any_of": frozenset(ids)})
    return Q(**{f"{field}__in": ids})
