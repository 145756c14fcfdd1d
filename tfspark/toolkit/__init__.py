"""The model toolkit: make a SavedModel that tfspark serves, and prove it runs before Spark does.

Needs TensorFlow (``pip install 'tfspark[train]'``); nothing here imports Spark.

- :mod:`tfspark.toolkit.export`: :func:`~tfspark.toolkit.export.export_keras` (a Keras 3 model, a
  ``tf.function`` or a ``tf.Module`` as ``<repo>/<name>/<version>/`` with named signatures, golden
  vectors, checked with TF's C++ loader, published atomically), ``add_golden_vectors``, ``read_signatures``;
- :mod:`tfspark.toolkit.endpoints`: the named signature functions an export is built from, and the key rules;
- :mod:`tfspark.toolkit.check`: load as TF Java / TF Serving do and warm up every signature
  (``python -m python_trainer check DIR``);
- :mod:`tfspark.toolkit.golden`: golden vectors (``assets.extra/golden.json``), written and replayed;
- :mod:`tfspark.toolkit.warmup`: TF Serving warm-up requests (``assets.extra/tf_serving_warmup_requests``);
- :mod:`tfspark.toolkit.sample_inputs`: sample rows (CSV, JSON, ``.npz``, image folders) fed to signatures;
- :mod:`tfspark.toolkit.layout`: a model repository's layout, diagnosed as the JVM does.

Dependencies point one way: ``export`` → ``endpoints``, ``check``, ``golden``, ``sample_inputs``;
``check`` → ``golden``, ``warmup``, ``layout``; ``golden`` → ``layout``. Errors are
:class:`python_trainer.errors.TrainerError` subclasses. The book's training workflows and the
command line stay in :mod:`python_trainer`.
"""
