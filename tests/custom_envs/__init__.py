"""Gymnasium envs a user might write, for the tests of ``--env module:EnvId`` (see my_robot.py)."""
