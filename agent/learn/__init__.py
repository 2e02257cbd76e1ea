"""Data in, gradients out: the replay buffer, the learner that updates the models from its batches, and
the phase timer both report to.

May import ``agent.model``, ``agent.config`` and ``agent.layout``; never ``agent.run`` or ``agent.suite``.
"""
