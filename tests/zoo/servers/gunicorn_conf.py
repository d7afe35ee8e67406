"""gunicorn settings for the shop: quiet, and a 'listening' line once a worker serves."""

loglevel = "warning"
timeout = 120  # a traced worker is slower; do not let the arbiter kill it


def post_worker_init(worker):
    print("listening %d" % worker.pid, flush=True)
