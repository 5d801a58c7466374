"""Untrusted uploads: decompression bombs, path traversal, wrong types — refused with a code."""
import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from core import uploads
from core.errors import HeroError


def png_bytes(w=32, h=24, colour=(255, 0, 0)):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width=50_000, height=50_000):
    """A tiny PNG whose header declares a 2.5-gigapixel image (the pixel data compresses to nothing)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)   # 1-bit greyscale
    row = b"\0" + b"\0" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_valid_image_decodes():
    arr = uploads.image_array(png_bytes(), size=(16, 16))
    assert arr.shape == (16, 16, 3) and arr[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("side", [6_000, 50_000])   # over our cap; far over PIL's own guard
def test_decompression_bomb_refused_before_decoding(side):
    data = bomb_png(side, side)
    assert len(data) < 100_000
    with pytest.raises(HeroError) as e:
        uploads.open_image(data)
    assert e.value.code == "upload.too_many_pixels"


@pytest.mark.parametrize("data,code", [
    (b"not an image at all", "upload.not_image"),
    (png_bytes()[:60], "upload.not_image"),                 # truncated
    (b"%PDF-1.4 fake", "upload.not_image"),
])
def test_bad_images(data, code):
    with pytest.raises(HeroError) as e:
        uploads.open_image(data)
    assert e.value.code == code


def test_oversize_bytes_refused():
    with pytest.raises(HeroError) as e:
        uploads.open_image(png_bytes(), max_bytes=10)
    assert e.value.code == "upload.too_large"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_of_class_folders():
    data = make_zip({"cats/a.png": png_bytes(), "cats/b.png": png_bytes(), "dogs/c.png": png_bytes(colour=(0, 0, 255)),
                     "__MACOSX/cats/._a.png": b"junk", "readme.txt": b"hello"})
    folder = uploads.read_image_zip(data)
    assert folder.classes == ("cats", "dogs") and len(folder.images["cats"]) == 2


@pytest.mark.parametrize("name", ["../evil/x.png", "/etc/x.png", "cats/../../x.png", "C:/x/y.png"])
def test_zip_path_traversal_refused(name):
    data = make_zip({"cats/a.png": png_bytes(), name: png_bytes()})
    with pytest.raises(HeroError) as e:
        uploads.read_image_zip(data)
    assert e.value.code == "upload.zip_unsafe_path"


def test_zip_with_a_bomb_inside_refused():
    data = make_zip({"cats/a.png": png_bytes(), "dogs/b.png": bomb_png()})
    with pytest.raises(HeroError) as e:
        uploads.read_image_zip(data)
    assert e.value.code == "upload.too_many_pixels"


def test_zip_declared_size_refused():
    data = make_zip({"cats/a.png": png_bytes(), "dogs/b.png": b"\0" * 5_000_000})
    with pytest.raises(HeroError) as e:
        uploads.read_image_zip(data, max_unpacked=1_000_000)
    assert e.value.code == "upload.zip_too_big"


def test_zip_needs_two_classes_and_is_a_zip():
    with pytest.raises(HeroError) as e:
        uploads.read_image_zip(make_zip({"cats/a.png": png_bytes()}))
    assert e.value.code == "upload.zip_classes"
    with pytest.raises(HeroError) as e:
        uploads.read_image_zip(b"PK but not really")
    assert e.value.code == "upload.not_zip"
