"""The learned models: what the planners consume (encode, next latent, reward, value, policy prior, safety).

``world_model`` (latent world model), ``robotics_model`` (visual embedding + proprioception + safety head),
their parts (``networks``, ``value``, ``policy_prior``, ``safety_head``) and the tensor helpers they share
(``ops``). May import ``agent.config``, ``envs`` and ``planners``; never ``agent.learn``, ``agent.run`` or
``agent.suite``.
"""
