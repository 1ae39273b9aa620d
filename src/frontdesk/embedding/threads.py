"""Thread settings for the small matrix products a request makes.

NumPy's OpenBLAS starts a worker per core and hands each call to them. A request's products
are small (one query vector against a few thousand chunk vectors, one message against a
classifier's weights), so the hand-off costs more than it saves, and on a busy 2-core server
the waiting workers take the cores the request needs: a 5k x 384 search measured p95 8.5 ms
with two BLAS threads and 1.9 ms with one while other work ran. So a serving process keeps
BLAS on one thread; onnxruntime has its own pool and is unaffected.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def limit_blas_threads(threads: int = 1) -> None:
    """Cap BLAS threads for the rest of the process."""
    threadpool_limits(limits=threads, user_api="blas")
