"""The console's pages, one module per page; every view passes the gate in ``apps.support.access``."""
