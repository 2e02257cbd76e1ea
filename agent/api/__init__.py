"""The Python API: ``agent.load`` a trained run and act or imagine with it (``policy``), ``agent.train`` /
``agent.resume`` with the CLI's configs, and ``WorldModelEnv``, a Gymnasium env inside a run's learned model.

The top of the house: may import everything in ``agent``; nothing in ``agent`` imports it.
"""
