import json

from jegal.train.state import RunState

# state.json as the loop wrote it before RunState existed (a string-keyed dict; best_metric and
# last_ckpt_step appear only once a validation improved / a checkpoint was written in that call).
BEFORE = {"epoch": 1, "batch": 2, "step": 7, "samples": 54, "skipped": 0, "dropped_uneven": 0, "bad_steps": 0,
          "consecutive_bad": 0, "best": None, "best_step": None, "history": [{"epoch": 0, "step": 5, "train_loss": 8.4}],
          "last_val_step": None, "last_metrics": {}, "epoch_loss_sum": 14.7, "epoch_loss_n": 2, "world_size": 1,
          "train_seconds": 1.5, "elapsed": 9.9, "last_loss": 6.67, "stopped_by": "max_steps", "scaler": None}


def test_the_state_of_a_checkpoint_written_before_runstate_reads_back_field_for_field():
    state = RunState.from_dict(json.loads(json.dumps(BEFORE)))
    assert (state.epoch, state.batch, state.step, state.samples) == (1, 2, 7, 54)
    assert state.history == BEFORE["history"] and state.epoch_loss_sum == 14.7 and state.last_loss == 6.67
    assert state.best_metric is None and state.last_ckpt_step is None  # absent then: the defaults
    written = state.to_dict()
    assert {k: written[k] for k in BEFORE if k != "scaler"} == {k: v for k, v in BEFORE.items() if k != "scaler"}
    assert "scaler" not in written  # the GradScaler's state is the loop's to add and restore


def test_runstate_round_trips_through_json_and_does_not_share_lists_between_runs():
    a = RunState(world_size=2)
    a.history.append({"epoch": 0})
    a.best, a.best_metric, a.last_metrics = 0.5, "spot_acc", {"spot_acc": 0.5}
    assert RunState.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert RunState().history == [] and RunState().last_metrics == {}
