"""packager/micropython.py's patch_tls_session on a small stand-in for
extmod/modtls_mbedtls.c (the real file is patched by every interpreter build,
which tests/servers/test_tls_resume.py uses): the methods land inside the
SSLSocket table, a second run changes nothing, a changed patch replaces the
old one (the source tree is shared between builds), and a file without the
expected text fails the build with one line naming it."""

import os

import pytest

from packager import micropython
from packager.errors import Die

STAND_IN = ("static mp_obj_t other(void) {}\n"
            + micropython.TLS_SOCKET_TABLE
            + "    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },\n"
            + micropython.TLS_CIPHER_ENTRY + "};\n"
            + "static const mp_rom_map_elem_t mp_module_tls_globals_table[] = {\n};\n")


def source(tmp_path, text=STAND_IN):
    os.makedirs(str(tmp_path / "extmod"))
    path = str(tmp_path / "extmod" / "modtls_mbedtls.c")
    with open(path, "w") as f:
        f.write(text)
    return path


def read(path):
    with open(path) as f:
        return f.read()


def test_the_methods_go_into_the_socket_table_once(tmp_path):
    path = source(tmp_path)
    micropython.patch_tls_session(str(tmp_path))
    text = read(path)
    table = text[text.index(micropython.TLS_SOCKET_TABLE):]
    table = table[:table.index("};\n")]
    assert "MP_QSTR_get_session" in table and "MP_QSTR_set_session" in table, table
    assert text.index("mod_ssl_get_session(mp_obj_t") < text.index(micropython.TLS_SOCKET_TABLE)
    assert text.count("#if MICROPY_PY_SSL_SESSION") == 2
    assert read(path + ".orig") == STAND_IN
    mtime = os.stat(path).st_mtime_ns
    micropython.patch_tls_session(str(tmp_path))
    assert read(path) == text and os.stat(path).st_mtime_ns == mtime


def test_a_changed_patch_replaces_the_old_one(tmp_path, monkeypatch):
    path = source(tmp_path)
    micropython.patch_tls_session(str(tmp_path))
    old = micropython.TLS_SESSION_EDITS
    newer = ((old[0][0], "// newer\n" + old[0][0]), old[1])
    monkeypatch.setattr(micropython, "TLS_SESSION_EDITS", newer)
    micropython.patch_tls_session(str(tmp_path))
    text = read(path)
    assert "// newer\n" in text and "mod_ssl_get_session(mp_obj_t" not in text and "MP_QSTR_get_session" in text


@pytest.mark.parametrize("missing", [micropython.TLS_SOCKET_TABLE, micropython.TLS_CIPHER_ENTRY])
def test_a_source_without_the_expected_text_fails_the_build(tmp_path, missing):
    path = source(tmp_path, STAND_IN.replace(missing, ""))
    with pytest.raises(Die) as e:
        micropython.patch_tls_session(str(tmp_path))
    msg = str(e.value)
    assert path in msg and "cannot add TLS session resumption" in msg and "\n" not in msg, msg
    assert read(path) == STAND_IN.replace(missing, "")
