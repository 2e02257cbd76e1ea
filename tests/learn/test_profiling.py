"""The phase timers behind benchmarks/step_profile.py: off by default, every update phase when on."""

import time

from agent.learn.profiling import OFF, PhaseTimer
from planners.precision import bf16_is_native, use_bf16
from tests.support import build_latent_model, fixed_batch


def test_an_inactive_timer_records_nothing_and_an_active_one_sums_each_phase():
    timer = PhaseTimer()
    with timer("a"):
        time.sleep(0.01)
    assert not timer.seconds
    timer.active = True
    for _ in range(2):
        with timer("a"):
            time.sleep(0.01)
    with timer("b"):
        pass
    assert timer.calls == {"a": 2, "b": 1}
    assert 0.02 <= timer.seconds["a"] < 1.0 and timer.seconds["b"] < timer.seconds["a"]
    timer.reset()
    assert not timer.seconds and not timer.calls


def test_the_learner_times_every_phase_of_an_update_only_when_asked():
    wm, critic, policy, learner = build_latent_model((5,))
    assert learner.timer is OFF and not OFF.active
    batch = fixed_batch()
    learner.update(batch)
    assert not OFF.seconds  # the shared default timer never records
    learner.timer = PhaseTimer()
    learner.timer.active = True
    learner.update(batch)
    assert set(learner.timer.calls) == {"update.target_latents", "update.forward", "update.backward",
                                        "update.optimizer", "update.policy", "update.ema"}
    assert all(count == 1 for count in learner.timer.calls.values())


def test_bf16_default_follows_the_device_and_an_explicit_choice_wins():
    native = bf16_is_native("cpu")
    assert use_bf16(None, "cpu") is native
    assert use_bf16(True, "cpu") is True and use_bf16(False, "cpu") is False
    wm, critic, policy, learner = build_latent_model((5,), bf16=None)
    assert learner.bf16 is native
