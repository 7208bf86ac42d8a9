#ifndef PIPE_CBLAS_SHIM_H
#define PIPE_CBLAS_SHIM_H
// OpenBLAS's cblas.h (Debian's libopenblas-dev; the openblas pkg-config entry adds its include directory).
// It also declares openblas_set_num_threads, which the thread-count params use.
#include <cblas.h>

// Stops OpenBLAS's worker threads (blas_server.c; what its fork handler calls). Not in cblas.h. The next
// multi-threaded BLAS call starts them again.
int blas_thread_shutdown_(void);
#endif
