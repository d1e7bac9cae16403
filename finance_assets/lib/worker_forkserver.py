"""Imported last by the Dask workers' forkserver (`lib/executor.start_worker_forkserver`), after the modules it
preloads; nothing else imports it.

- The server leaves the CLI's process group: a stop signal sent to that group (a time budget's SIGTERM, or
  Ctrl-C at the terminal) is for the CLI, which then closes its workers. A server killed by it left its workers
  without the process that reports their exit to their nannies: they outlived the CLI, holding its output open.
- What the preloaded modules created is frozen (`gc.freeze`): each worker forked from here starts with it, and
  its collector skips those objects.
"""

import gc
import os

os.setpgid(0, 0)
gc.freeze()
