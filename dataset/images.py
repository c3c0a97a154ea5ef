"""Image and mask decoding shared by the dataset readers.

Images: JPEG and PNG bytes pass through unchanged when Model Garden's decoder
reads them as they are; an EXIF orientation (phone photos) is applied and the
image re-encoded upright, because tf.io.decode_image ignores EXIF while the
annotator saw the rotated picture. Masks: the class value of a pixel is its
grayscale value (ITU-R 601 luma, OpenCV's cvtColor and PIL's convert("L")), after
an alpha channel's transparency is composited onto the background.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")  # the photos ingestion reads
OTHER_IMAGE_EXTENSIONS = (".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif")  # named when rejected
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
EXIF_ORIENTATION_TAG = 0x0112
# PIL modes tf.io.decode_image(channels=3) reads correctly as they are.
_PASSTHROUGH_MODES = {"JPEG": {"L", "RGB"}, "PNG": {"L", "LA", "RGB", "RGBA", "P"}}


@dataclasses.dataclass(frozen=True)
class EncodedImage:
    data: bytes
    format: str  # "jpeg" | "png"
    width: int
    height: int
    reencoded: bool
    # (width, height) as stored, before the EXIF rotation; equals (width, height) when not rotated
    stored_size: tuple[int, int]


class ImageDecodeError(Exception):
    pass


EMPTY_FILE = "empty file (0 bytes)"


def prepare_image(data: bytes) -> EncodedImage:
    """Checks that `data` decodes completely; returns bytes Model Garden can decode upright."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageDecodeError(EMPTY_FILE)
    try:
        with Image.open(io.BytesIO(data)) as im:
            source_format = im.format or "?"
            orientation = im.getexif().get(EXIF_ORIENTATION_TAG, 1)
            im.load()  # decodes everything: truncated files fail here
            stored_size = im.size
            passthrough = (
                source_format in _PASSTHROUGH_MODES
                and im.mode in _PASSTHROUGH_MODES[source_format]
                and orientation in (0, 1)
                and getattr(im, "n_frames", 1) == 1
            )
            if passthrough:
                return EncodedImage(data, source_format.lower(), im.width, im.height, False, stored_size)
            upright = ImageOps.exif_transpose(im) if orientation not in (0, 1) else im
            upright = upright.convert("L" if upright.mode in ("L", "I;16", "I") else "RGB")
    except UnidentifiedImageError as e:  # its message carries the repr of a BytesIO
        raise ImageDecodeError(
            "cannot decode the image (not a JPEG or PNG: its content is no image format Pillow knows)"
        ) from e
    except Exception as e:  # any failure to decode untrusted bytes means a corrupt file
        raise ImageDecodeError(f"cannot decode the image ({type(e).__name__}: {e})") from e

    buffer = io.BytesIO()
    if source_format == "JPEG":
        upright.save(buffer, format="JPEG", quality=95)
        new_format = "jpeg"
    else:
        upright.save(buffer, format="PNG")
        new_format = "png"
    return EncodedImage(buffer.getvalue(), new_format, upright.width, upright.height, True, stored_size)


@dataclasses.dataclass(frozen=True)
class DecodedMask:
    gray: np.ndarray  # HxW uint8: the class value of each pixel
    colour: np.ndarray | None  # HxWx3 BGR (palettes expanded, transparency composited); None for grayscale masks
    lossy: bool = False  # JPEG data: its values are approximate (dataset/mask_values.py)
    alpha_decided: int = 0  # pixels whose value the alpha channel changed (transparent or half-transparent)


def decode_mask(data: bytes) -> DecodedMask:
    """A mask PNG (or JPEG, flagged lossy) and its grayscale (luma) values."""
    import cv2

    if not data:
        raise ImageDecodeError(EMPTY_FILE)
    lossy = data.startswith(JPEG_SIGNATURE)
    if not lossy and not data.startswith(PNG_SIGNATURE):
        raise ImageDecodeError("the mask is neither a PNG nor a JPEG (masks are PNG files, lossless)")
    kind = "JPEG" if lossy else "PNG"
    try:
        mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise ImageDecodeError(f"cannot decode the mask {kind} ({e})") from e
    if mask is None:
        raise ImageDecodeError(f"cannot decode the mask {kind} (corrupt or truncated)")
    if mask.dtype != np.uint8:
        if mask.dtype == np.uint16 and int(mask.max()) <= 255:
            mask = mask.astype(np.uint8)
        else:
            raise ImageDecodeError(f"the mask is a {mask.dtype} PNG with values above 255; use 8-bit masks")
    if mask.ndim == 2:
        return DecodedMask(mask, None, lossy)
    channels = mask.shape[2]
    if channels == 1:
        return DecodedMask(mask[:, :, 0], None, lossy)
    if channels == 3:
        return DecodedMask(cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY), mask, lossy)
    if channels == 4:
        return _composited(mask, lossy)
    raise ImageDecodeError(f"the mask has {channels} channels")


def _composited(bgra: np.ndarray, lossy: bool) -> DecodedMask:
    """A mask on a transparent layer, as anyone looking at it sees it: composited onto the background (0).
    Alpha 0 is background whatever the colour beneath (editors keep white there), a half-transparent pixel
    is a blend of its colour and the background (a soft edge, read as one), an opaque one its colour."""
    import cv2

    bgr, alpha = bgra[..., :3], bgra[..., 3]
    plain = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if (alpha == 255).all():
        return DecodedMask(plain, np.ascontiguousarray(bgr), lossy)
    weight = alpha.astype(np.uint16)[..., None]
    composited = ((bgr.astype(np.uint16) * weight + 127) // 255).astype(np.uint8)
    gray = cv2.cvtColor(composited, cv2.COLOR_BGR2GRAY)
    return DecodedMask(gray, composited, lossy, int(np.count_nonzero(gray != plain)))


def luma(rgb: tuple[int, int, int]) -> int:
    """The grayscale value of a colour, as decode_mask computes it for a mask pixel (OpenCV's conversion)."""
    import cv2

    return int(cv2.cvtColor(np.array([[rgb[::-1]]], np.uint8), cv2.COLOR_BGR2GRAY)[0, 0])


def value_counts(gray: np.ndarray) -> dict[int, int]:
    """{grayscale value: pixel count} of the values present."""
    counts = np.bincount(gray.ravel(), minlength=256)
    return {int(v): int(counts[v]) for v in np.nonzero(counts)[0]}
