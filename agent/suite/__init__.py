"""Benchmark suites: their definitions, the runner that trains every task x seed (resumable, in
processes or on Ray), results read back from run directories, statistics (IQM and CIs), the published
curves (``published/``, package data) and the report and plots that set ours beside them; ``command``
is ``wm-agent eval --suite``.

May import ``agent.layout`` (file names, without torch) and ``envs``, nothing that imports torch; it starts
training as child processes of ``wm-agent train`` rather than importing the training loop.
"""
