import numpy as np

from jegal.perception.masking import FACE_FILL, masked_crop, masked_crops


def test_masked_crop_blanks_the_face_and_keeps_the_body():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 100, (120, 160, 3), dtype=np.uint8)  # never equal to the fill
    body = np.array([40, 0, 120, 120], np.float32)  # 80 x 120 crop
    face = np.array([70, 10, 90, 30], np.float32)
    out = masked_crop(frame, body, face, size=120, face_margin=0.0)
    assert out.shape == (120, 120, 3) and out.dtype == np.uint8
    # Scale 1: the crop sits centred, 20 px of letterbox each side.
    assert np.all(out[:, :20] == 0) and np.all(out[:, 100:] == 0)
    assert np.all(out[10:30, 20 + 30:20 + 50] == FACE_FILL)
    np.testing.assert_array_equal(out[40:, 20:100], frame[40:, 40:120])
    assert not np.any(out[:10, 20:100] == FACE_FILL)
    crops = masked_crops(np.stack([frame, frame]), np.stack([body, body]), np.stack([face, face]), 32)
    assert crops.shape == (2, 32, 32, 3)
