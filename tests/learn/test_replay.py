import numpy as np
import pytest

from agent.learn.replay import Episode, EpisodeReplay, episode_files, load_episode


def make_episode(length: int, start: float, obs_dim: int = 3, action_dim: int = 2) -> Episode:
    """Observations count up from ``start`` so a window's contents reveal where it came from."""
    t = start + np.arange(length + 1, dtype=np.float32)
    obs = np.repeat(t[:, None], obs_dim, axis=1)
    action = np.repeat(t[:-1, None], action_dim, axis=1)
    reward = t[:-1] * 10
    terminated = np.zeros(length, bool)
    terminated[-1] = True
    return Episode(obs, action, reward, terminated, {"state": obs[:, :1].copy()})


def test_round_trip_to_disk(tmp_path):
    replay = EpisodeReplay(tmp_path / "episodes")
    episodes = [make_episode(7, 0), make_episode(5, 100)]
    for ep in episodes:
        replay.add(ep)
    files = episode_files(tmp_path / "episodes")
    assert [f.name for f in files] == ["episode_000000_len7.npz", "episode_000001_len5.npz"]
    loaded = load_episode(files[1])
    for key in ("obs", "action", "reward", "terminated"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(episodes[1], key))
    np.testing.assert_array_equal(loaded.extras["state"], episodes[1].extras["state"])

    reloaded = EpisodeReplay.load(tmp_path / "episodes")
    assert (reloaded.num_episodes, reloaded.num_steps) == (2, 12)
    assert reloaded.episode_returns == replay.episode_returns


def test_half_written_file_is_ignored(tmp_path):
    replay = EpisodeReplay(tmp_path)
    replay.add(make_episode(4, 0))
    (tmp_path / "episode_000001_len4.tmp").write_bytes(b"partial")
    assert EpisodeReplay.load(tmp_path).num_episodes == 1


def test_samples_are_contiguous_windows_inside_one_episode(tmp_path):
    replay = EpisodeReplay(tmp_path)
    replay.add(make_episode(6, 0))
    replay.add(make_episode(2, 100))  # too short for horizon 3: never sampled
    replay.add(make_episode(9, 1000))
    batch = replay.sample(512, horizon=3, rng=np.random.default_rng(0))
    assert batch["obs"].shape == (4, 512, 3)
    assert batch["action"].shape == (3, 512, 2)
    assert batch["reward"].shape == (3, 512) and batch["terminated"].shape == (3, 512)
    obs = batch["obs"][:, :, 0].numpy()
    # Consecutive observations, so no window crosses an episode boundary.
    np.testing.assert_array_equal(np.diff(obs, axis=0), np.ones((3, 512)))
    starts = obs[0]
    assert set(np.unique(starts)) == set(range(0, 4)) | set(range(1000, 1007))
    # action t and reward t belong to obs t.
    np.testing.assert_array_equal(batch["action"][:, :, 0].numpy(), obs[:-1])
    np.testing.assert_array_equal(batch["reward"].numpy(), obs[:-1] * 10)
    # terminated only on the episode's last action.
    term = batch["terminated"].numpy()
    last_obs = obs[1:]
    np.testing.assert_array_equal(term, np.isin(last_obs, [6, 1009]))


def test_sampling_before_any_window_fits_is_a_clear_error(tmp_path):
    replay = EpisodeReplay(tmp_path)
    replay.add(make_episode(2, 0))
    with pytest.raises(ValueError, match="no episode has 3 steps"):
        replay.sample(4, horizon=3, rng=np.random.default_rng(0))


def test_inconsistent_episode_is_rejected():
    with pytest.raises(ValueError, match="inconsistent episode"):
        Episode(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros(3), np.zeros(3, bool))
