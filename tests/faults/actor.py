"""A program that deletes a blog (its articles cascade in the database), for the fault tests.

``python -m tests.faults.actor BLOG_PK`` (settings: :mod:`tests.faults.fault_settings`)
deletes the blog with the ORM inside ``transaction.atomic()``, so rowsync delivers the
articles' ``post_delete`` in the transaction or after the commit
(``ROWSYNC_FAULT_DELIVERY``). Prints ``committed`` once the transaction committed and
``done`` at the end; exits 2 with the error when the delete fails.
"""

from __future__ import annotations

import sys
import traceback


def main(blog_pk: int) -> int:
    import django

    django.setup()
    from django.db import transaction

    from blog.models import Blog
    from tests.faults import receivers

    receivers.connect()
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: print("committed", flush=True))
            Blog.objects.get(pk=blog_pk).delete()
    except Exception:
        traceback.print_exc()
        return 2
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
