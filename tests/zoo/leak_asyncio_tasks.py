"""Leak: asyncio tasks that are created and never awaited.

Each request starts a background "keep-alive" task holding the session
state; the task waits on an event that is never set and is kept in a set, so
task, coroutine and state all stay alive. The churn runs tasks that finish
and are awaited.
"""

import asyncio
import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))

_BACKGROUND = set()


def session_state(request_id):
    return {"id": request_id, "token": ("session-%d;" % request_id) * 100}


async def keep_alive(never, state):
    await never.wait()
    return state


async def lookup(request_id, n):
    record = {"key": "k-%d-%d" % (request_id, n), "values": list(range(30))}
    await asyncio.sleep(0)
    return len(record["values"])


async def handle_request(request_id):
    # Churn: tasks that complete and are awaited.
    results = await asyncio.gather(*[lookup(request_id, n) for n in range(8)])
    return sum(results)


async def main():
    never = asyncio.Event()
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        await handle_request(request_id)
        _BACKGROUND.add(asyncio.ensure_future(keep_alive(never, session_state(request_id))))  # LEAK
        request_id += 1
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    asyncio.run(main())
