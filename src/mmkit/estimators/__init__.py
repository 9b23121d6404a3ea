"""Built-in estimators: three-way kappa, particle-filter sigma, warmup (seed report 1, 2, 8).

Modules:

* :mod:`.params` - parameter dataclasses (light: read at CLI start);
* :mod:`.book_kappa`, :mod:`.robust_kappa`, :mod:`.own_fill_kappa` - the three kappa sources;
* :mod:`.kappa_orchestrator` - their confidence-weighted, EWMA-smoothed blend (estimator
  ``kappa``);
* :mod:`.particle_filter`, :mod:`.bipower`, :mod:`.cascade` - the sigma sources and the cascade
  detector; :mod:`.sigma_estimator` combines them (estimator ``sigma``);
* :mod:`.warmup` - the warmup estimator and gate;
* ``_kernels_*`` - numba kernels.
"""
