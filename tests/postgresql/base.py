"""PostgreSQL as the test suite uses it: Django's backend, whose flush passes the ledger's append-only triggers.

Transactional tests empty every table between tests with TRUNCATE, which the ledger's triggers refuse. Only the
test database is ever flushed, and only through this backend (``tests/conftest.py`` selects it for the test run):
the triggers are bypassed for the flush's own statements.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, **kwargs):
        statements = super().sql_flush(style, tables, **kwargs)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
