"""A program that deletes a blog (its articles cascade in the database), for the fault tests.

``python -m tests.faults.actor BLOG_PK`` (settings: :mod:`tests.faults.fault_settings`)
deletes the blog with the ORM inside ``transaction.atomic()``, so rowsync delivers the
articles' ``post_delete`` in the transaction or after the commit
(``ROWSYNC_FAULT_DELIVERY``). Prints ``committed`` once the transaction committed and
``done`` at the end; exits 2 with the error when the delete fails (and, on PostgreSQL,
the statement the error arose in: ``context: ...``). ``ROWSYNC_FAULT_SESSION_SQL`` holds
statements (``;``-separated) run in the transaction before the delete, such as a
statement timeout.
"""

from __future__ import annotations

import os
import sys
import traceback


def main(blog_pk: int) -> int:
    import django

    django.setup()
    from django.db import connection, transaction

    from blog.models import Blog
    from tests.faults import receivers

    receivers.connect()
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: print("committed", flush=True))
            blog = Blog.objects.get(pk=blog_pk)
            with connection.cursor() as cursor:
                for sql in os.environ.get("ROWSYNC_FAULT_SESSION_SQL", "").split(";"):
                    if sql.strip():
                        cursor.execute(sql)
            blog.delete()
    except Exception as exc:
        traceback.print_exc()
        diag = getattr(exc.__cause__, "diag", None)
        if diag is not None:
            print(f"context: {diag.context}", file=sys.stderr, flush=True)
        return 2
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
