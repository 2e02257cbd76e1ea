"""benchmarks/training_episodes.py counts failed training episodes per window of env steps, from a run's
episode files; learning.py's report shows them per seed."""

import numpy as np

from agent.layout import episode_file_name
from benchmarks.learning import failures_markdown
from benchmarks.training_episodes import episode_ends, failures_after, failures_per_window, window_end


def write_episodes(run_dir, returns, length=500):
    episodes = run_dir / "episodes"
    episodes.mkdir(parents=True)
    for index, total in enumerate(returns):
        reward = np.full(length, total / length, np.float32)
        np.savez(episodes / episode_file_name(index, length), obs=np.zeros((length + 1, 6), np.float32),
                 action=np.zeros((length, 2), np.float32), reward=reward, terminated=np.zeros(length, bool))


def test_each_episode_counts_in_the_window_where_it_ended(tmp_path):
    write_episodes(tmp_path, [0, 950, 100, 599, 600, 990], length=2000)  # ends at 2k, 4k, ..., 12k
    counts = failures_per_window(tmp_path, window=5000, below=600)
    assert counts == {5000: (1, 2), 10000: (2, 3), 15000: (0, 1)}  # 599 fails, 600 does not
    assert failures_after(counts, 5000) == (2, 4)
    assert failures_per_window(tmp_path / "no-run") == {}


def test_episode_ends_sum_the_lengths_in_collection_order_and_skip_other_files(tmp_path):
    write_episodes(tmp_path, [0, 0, 0], length=300)
    (tmp_path / "episodes" / "notes.txt").write_text("not an episode")
    ends = list(episode_ends(tmp_path))
    assert [end for end, _ in ends] == [300, 600, 900]
    assert [path.name for _, path in ends] == [episode_file_name(i, 300) for i in range(3)]
    assert list(episode_ends(tmp_path / "no-run")) == []


def test_an_episode_ending_on_a_window_boundary_counts_in_the_window_it_closes():
    assert [window_end(end, 5000) for end in (1, 4999, 5000, 5001, 10000)] == [5000, 5000, 5000, 10000, 10000]


def test_the_report_table_has_a_row_per_window_and_the_sum_after_15k(tmp_path):
    failures = {1: {5000: (10, 10), 20000: (3, 10)}, 2: {5000: (9, 10)}}
    text = failures_markdown(failures)
    assert "| 5000 | 10/10 | 9/10 |" in text and "| 20000 | 3/10 | - |" in text
    assert "| after 15k | 3/10 | 0/0 |" in text
    assert failures_markdown({1: {}, 2: {}}) == ""
