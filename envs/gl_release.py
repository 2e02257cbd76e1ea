"""Freeing GL resources at the right moment, whoever forgets to close.

MuJoCo frees GL objects in whatever context is current, so a renderer freed
late (garbage collection) or after EGL shuts down (interpreter exit) corrupts
another renderer's frames or prints EGLError tracebacks. Each renderer here
therefore frees itself exactly once: on close, on garbage collection, or at
exit before the EGL display is terminated.
"""

import atexit
import weakref
from collections.abc import Callable


def schedule_release(owner: object, release: Callable[[], None]) -> Callable[[], None]:
    """Arrange for ``release`` to run once, when ``owner`` dies or at exit.

    Call this only after the GL context exists: atexit runs hooks last-in,
    first-out, and mujoco registers its EGL shutdown when the first context is
    made, so a later registration runs before that shutdown. ``release`` must
    not reference ``owner`` (that would keep it alive).

    Returns:
        A function that runs ``release`` now (if not yet run) and drops the
        exit hook; call it from ``close()``.
    """
    finalizer = weakref.finalize(owner, release)
    finalizer.atexit = False  # weakref's own exit hook runs at an unknown point
    atexit.register(finalizer)

    def release_now() -> None:
        atexit.unregister(finalizer)
        finalizer()

    return release_now
