import pytest

from labctl.errors import HostError
from labctl.hypervisor import saveimage


def fake_save(path, xml=b"<domain><name>golden</name></domain>", cookie=b"<cookie/>", data_len=4096,
              stream=b"QEVM\x00\x00\x00\x03" + bytes(range(256)) * 10, compressed=0):
    data = xml + b"\0" + cookie + b"\0"
    data += b"\0" * (data_len - len(data))
    header = saveimage.HEADER.pack(saveimage.MAGIC, 2, data_len, 1, compressed, len(xml) + 1, *([0] * 14))
    path.write_bytes(header + data + stream)
    return stream


def test_clone_replaces_xml_and_keeps_cookie_and_stream(tmp_path):
    src, dst = tmp_path / "g.save", tmp_path / "s.save"
    stream = fake_save(src)
    new_xml = "<domain><name>labctl-desk1</name><uuid>1234</uuid></domain>"
    saveimage.clone_with_xml(src, dst, new_xml)
    assert saveimage.read_xml(dst) == new_xml
    raw = dst.read_bytes()
    fields = saveimage.HEADER.unpack(raw[: saveimage.HEADER.size])
    data_len, cookie_off = fields[2], fields[5]
    data = raw[saveimage.HEADER.size: saveimage.HEADER.size + data_len]
    assert data[cookie_off: data.index(b"\0", cookie_off)] == b"<cookie/>"
    assert raw[saveimage.HEADER.size + data_len:] == stream
    assert len(raw) == len(src.read_bytes())
    assert saveimage.read_xml(src) == "<domain><name>golden</name></domain>"


def test_xml_too_long_for_the_data_area_is_refused(tmp_path):
    src = tmp_path / "g.save"
    fake_save(src, data_len=128)
    with pytest.raises(HostError, match="does not fit"):
        saveimage.clone_with_xml(src, tmp_path / "s.save", "<domain>" + "x" * 200 + "</domain>")
    assert not (tmp_path / "s.save").exists()


@pytest.mark.parametrize("mutate,needle", [
    (lambda b: b"NotLibvirtSave!!" + b[16:], "not a complete libvirt save image"),
    (lambda b: b[:10], "too short"),
])
def test_not_a_save_image(tmp_path, mutate, needle):
    src = tmp_path / "g.save"
    fake_save(src)
    src.write_bytes(mutate(src.read_bytes()))
    with pytest.raises(HostError, match=needle):
        saveimage.read_xml(src)


def test_compressed_images_are_refused(tmp_path):
    src = tmp_path / "g.save"
    fake_save(src, compressed=1)
    with pytest.raises(HostError, match="compressed"):
        saveimage.read_xml(src)
