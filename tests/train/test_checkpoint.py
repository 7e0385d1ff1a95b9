import json

import pytest
import torch

from jegal.train import checkpoint as ckpt


def save(run_dir, step, model, opt, keep=2):
    ckpt.begin_checkpoint(run_dir, step)
    ckpt.write_rank_state(run_dir, step, rank=0)
    return ckpt.finish_checkpoint(run_dir, step, model, opt, {"step": step}, keep=keep)


def hidden(run_dir):
    return sorted(p.name for p in (run_dir / ckpt.CHECKPOINT_DIR).iterdir() if p.name.startswith("."))


def test_round_trip_and_pruning(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    for step in (1, 2, 3):
        save(tmp_path, step, model, opt)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]
    assert hidden(tmp_path) == []
    torch.manual_seed(123)
    save(tmp_path, 4, model, opt)
    expected = torch.rand(3)
    torch.manual_seed(0)
    other = torch.nn.Linear(3, 2)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1)
    state = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path), other, other_opt)
    assert state == {"step": 4}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    assert torch.equal(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.rand(3), expected)  # the RNG continues where the save left it


def test_an_interrupted_save_leaves_the_previous_checkpoints(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    save(tmp_path, 1, model, opt)

    class Dies(torch.optim.SGD):
        def state_dict(self):
            raise KeyboardInterrupt  # killed while writing the optimiser

    with pytest.raises(KeyboardInterrupt):
        save(tmp_path, 2, model, Dies(model.parameters(), lr=0.1))
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000001"]
    assert hidden(tmp_path) == []  # nothing half-written left under any name
    # what kill -9 leaves (a staging directory, an atomic temporary) is ignored, then removed
    root = tmp_path / ckpt.CHECKPOINT_DIR
    (root / ".tmp-step-00000002").mkdir()
    (root / ".step-00000002.tmp999").mkdir()
    (root / ".step-00000002.tmp999" / "state.json").write_text(json.dumps({"step": 2}))
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000001"]
    save(tmp_path, 3, model, opt)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000001", "step-00000003"]
    assert hidden(tmp_path) == []


def test_the_same_step_saved_twice_keeps_the_first(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = save(tmp_path, 5, model, opt)
    before = (first / "model.safetensors").read_bytes()
    with torch.no_grad():
        model.weight.add_(1)
    assert save(tmp_path, 5, model, opt) == first
    assert (first / "model.safetensors").read_bytes() == before and hidden(tmp_path) == []
