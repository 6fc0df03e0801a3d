"""Loading the catalogue (issue 16), where a recipe came from and `fault import` (issue 19)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from labctl.cli.main import cli
from labctl.errors import AlreadyExistsError, ConfigError
from labctl.faults import provenance
from labctl.faults.manifest import Catalog
from labctl.faults.scaffold import scaffold

ROOT = Path(__file__).resolve().parents[2]


def _edit(folder: Path, change) -> None:
    file = folder / "fault.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# -- template errors at load ---------------------------------------------------------------

TEMPLATE_CASES = [
    ("check", lambda d: d["checks"][0]["command"].update(run="test -f {{ home "), "checks[0].command.run"),
    ("variant-param", lambda d: d["variants"][1].update(params={"where": "{{ params.token"}),
     "variants[1].params.where"),
    ("protect", lambda d: d.update(protect=["{{ home }}/Documents", "{% if x %}"]), "protect[1]"),
    ("ticket-subject", lambda d: d["ticket"]["subject"].update(fr="{{ params.token }"), "ticket.subject.fr"),
    ("check-user", lambda d: d["checks"][0]["command"].update({"as": "{{ user"}), "checks[0].command.as"),
    ("nested-param", lambda d: d["variants"][0].update(params={"paths": ["/a", {"to": "{% for x in y %}"}]}),
     "variants[0].params.paths[1].to"),
    ("repair-title", lambda d: d["repairs"][1].update(title="Harmful: {{ params.token "), "repairs[1].title"),
    ("hint", lambda d: d["hints"].append("Look in {{ home }/Documents"), "hints[1]"),
    ("comment-in-template", lambda d: d["checks"][0]["command"].update(run="test ${#x} = {{ params.token }}"),
     "checks[0].command.run"),
]


@pytest.mark.parametrize("change,field", [c[1:] for c in TEMPLATE_CASES], ids=[c[0] for c in TEMPLATE_CASES])
def test_a_template_syntax_error_is_refused_at_load_naming_the_field(tmp_path, change, field):
    folder = scaffold(tmp_path, "bad-template", ["T1-HW"])
    _edit(folder, change)
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("bad-template")
    assert f"bad-template/fault.yaml: field '{field}': template syntax error:" in err.value.message, err.value.message


def test_a_ticket_file_with_a_syntax_error_is_refused_naming_the_file(tmp_path):
    folder = scaffold(tmp_path, "bad-template", ["T1-HW"])
    (folder / "ticket.en.md.j2").write_text("Hello,\n\nmy {{ params.token is gone\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("bad-template")
    assert "bad-template/ticket.en.md.j2: line 3: template syntax error:" in err.value.message, err.value.message
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 2


def test_templates_are_parsed_not_rendered(tmp_path):
    """An undefined name is a render-time matter (it depends on the draw): loading accepts it."""
    folder = scaffold(tmp_path, "good-template", ["T1-HW"])
    _edit(folder, lambda d: d["checks"][0]["command"].update(run="test -f {{ params.not_drawn_yet }}"))
    assert Catalog(tmp_path).get("good-template").id == "good-template"


def test_plain_strings_are_not_parsed_as_templates(tmp_path):
    """What is not rendered (no {{ or {%) is used as written: a shell ${#x} is no Jinja comment."""
    folder = scaffold(tmp_path, "plain-text", ["T1-HW"])
    _edit(folder, lambda d: d["checks"][0]["command"].update(run='test ${#HOME} -gt 1 && echo "{#"'))
    (folder / "ticket.fr.md.j2").write_text("Bonjour,\n\nle dossier {# a disparu.\n", encoding="utf-8")
    fault = Catalog(tmp_path).get("plain-text")
    assert fault.checks[0].spec["run"] == 'test ${#HOME} -gt 1 && echo "{#"'


def test_the_shipped_recipes_have_no_template_syntax_error():
    good, bad = Catalog(ROOT / "faults").load()
    assert {i: e.message for i, e in bad.items()} == {}
    assert len(good) == len(Catalog(ROOT / "faults").ids())


# -- one bad recipe does not hide the others ------------------------------------------------

@pytest.fixture
def catalogue(tmp_path):
    """Two good recipes and a malformed one."""
    faults = tmp_path / "faults"
    faults.mkdir(exist_ok=True)
    scaffold(faults, "alpha-fault", ["T1-HW"])
    scaffold(faults, "gamma-fault", ["T2-DISK"])
    bad = scaffold(faults, "beta-fault", ["T1-HW"])
    _edit(bad, lambda d: d["checks"][0]["command"].update(run="{{ oops"))
    return faults


def test_catalog_load_keeps_the_good_and_names_the_bad(catalogue):
    cat = Catalog(catalogue)
    good, bad = cat.load()
    assert [f.id for f in good] == ["alpha-fault", "gamma-fault"]
    assert list(bad) == ["beta-fault"] and "field 'checks[0].command.run'" in bad["beta-fault"].message
    broken = {}
    assert [f.id for f in cat.select(family="T2-DISK", broken=broken)] == ["gamma-fault"]
    assert list(broken) == ["beta-fault"]


def test_get_stays_strict_for_the_bad_recipe(catalogue):
    with pytest.raises(ConfigError, match="beta-fault/fault.yaml: field 'checks"):
        Catalog(catalogue).get("beta-fault")
    with pytest.raises(ConfigError):
        Catalog(catalogue).all()


def test_a_scenario_by_family_skips_the_bad_recipe(catalogue):
    from labctl.sessions.scenario import Pool, Scenario

    sc = Scenario(name="t", file=Path("t.yaml"), title="t", description="", mode="remote", language="en",
                  time_limit_min=30, faults_per_seat=1, pool=Pool(families=("T1-HW",)), sla_min={})
    skipped = {}
    assert [f.id for f in sc.resolve_pool(Catalog(catalogue), skipped)] == ["alpha-fault"]
    assert list(skipped) == ["beta-fault"]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LABCTL_FAULTS_DIR", str(tmp_path / "faults"))
    (tmp_path / "faults").mkdir(exist_ok=True)
    return lambda *args: CliRunner().invoke(cli, list(args))


def test_fault_list_shows_the_good_reports_the_bad_and_fails(run, catalogue):
    res = run("fault", "list")
    assert res.exit_code == ConfigError.exit_code == 2
    assert "alpha-fault" in res.stdout and "gamma-fault" in res.stdout and "beta-fault" not in res.stdout
    assert "error: beta-fault: " in res.stderr
    assert "beta-fault/fault.yaml: field 'checks[0].command.run': template syntax error" in res.stderr
    assert "alpha-fault" not in res.stderr and "1 recipe(s) not loaded" in res.stderr
    res = run("fault", "list", "--json")
    assert res.exit_code == 2 and [f["id"] for f in json.loads(res.stdout)] == ["alpha-fault", "gamma-fault"]
    assert "beta-fault/fault.yaml: field 'checks[0].command.run'" in res.stderr


def test_fault_list_names_every_bad_recipe_and_filters_the_good(run, catalogue):
    _edit(catalogue / "alpha-fault", lambda d: d["repairs"][0].update(title="{% if %}"))
    res = run("fault", "list", "--family", "T2-DISK")
    assert res.exit_code == 2 and "gamma-fault" in res.stdout
    assert "alpha-fault/fault.yaml: field 'repairs[0].title': template syntax error" in res.stderr
    assert "beta-fault/fault.yaml: field 'checks[0].command.run'" in res.stderr
    assert "2 recipe(s) not loaded" in res.stderr
    _edit(catalogue / "gamma-fault", lambda d: d["ticket"]["subject"].update(en="{{"))
    res = run("fault", "list", "--json")
    assert res.exit_code == 2 and json.loads(res.stdout) == []
    assert "gamma-fault/fault.yaml: field 'ticket.subject.en'" in res.stderr


def test_fault_list_of_a_clean_catalogue_exits_0(run, catalogue):
    import shutil

    shutil.rmtree(catalogue / "beta-fault")
    res = run("fault", "list")
    assert res.exit_code == 0 and res.stderr == ""
    assert "alpha-fault" in res.stdout and "gamma-fault" in res.stdout


def test_commands_needing_the_bad_recipe_still_refuse_it(run, catalogue):
    res = run("fault", "show", "beta-fault")
    assert res.exit_code == 2
    assert "beta-fault/fault.yaml: field 'checks[0].command.run': template syntax error" in res.output
    assert run("fault", "show", "alpha-fault").exit_code == 0


def test_fault_list_and_show_say_where_a_recipe_came_from(run, catalogue):
    res = run("fault", "list", "--json")
    assert {f["id"]: f["origin"] for f in json.loads(res.stdout)} == {"alpha-fault": "added",
                                                                       "gamma-fault": "added"}
    res = run("fault", "show", "alpha-fault")
    assert res.exit_code == 0 and "origin: added (not shipped with labctl)" in res.stdout


# -- provenance ------------------------------------------------------------------------------

def test_shipped_lists_exactly_the_shipped_recipes_unmodified():
    """Fails after a shipped recipe changes: regenerate with `python -m labctl.faults.provenance`."""
    known = provenance.shipped()
    assert sorted(known) == Catalog(ROOT / "faults").ids()
    stale = [i for i in known if provenance.origin(ROOT / "faults" / i, known) != "shipped"]
    assert stale == [], "faults/SHIPPED is stale for these: python -m labctl.faults.provenance"


def test_a_copy_of_a_shipped_recipe_is_shipped_until_changed(tmp_path):
    import shutil

    copy = tmp_path / "disk-full"
    shutil.copytree(ROOT / "faults" / "disk-full", copy)
    known = {"disk-full": provenance.folder_hash(ROOT / "faults" / "disk-full")}
    assert provenance.origin(copy, known) == "shipped"
    (copy / "README.md").write_text("changed\n", encoding="utf-8")
    assert provenance.origin(copy, known) == "modified"
    assert provenance.origin(tmp_path / "other-fault", known) == "added"


# -- import ----------------------------------------------------------------------------------

def _good(tmp_path: Path, fid: str = "printer-offline") -> Path:
    return scaffold(tmp_path / "src", fid, ["T1-HW"])


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_import_a_good_folder(tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    f = provenance.import_recipe(_good(tmp_path), faults)
    assert f.id == "printer-offline" and (faults / "printer-offline" / "fault.yaml").is_file()
    assert _listing(faults / "printer-offline") == _listing(tmp_path / "src" / "printer-offline")
    assert provenance.origin(f.folder) == "added"


def test_import_refuses_a_hostile_recipe_and_leaves_nothing(tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    src = _good(tmp_path)
    text = (src / "fix.yml").read_text(encoding="utf-8")
    (src / "fix.yml").write_text(text + "      delegate_to: localhost\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        provenance.import_recipe(src, faults)
    assert "printer-offline/fix.yml" in err.value.message and "task 'Run the fix script'" in err.value.message
    assert "delegate_to" in err.value.message
    assert list(faults.iterdir()) == []


def test_import_refuses_a_recipe_that_loads_but_fails_lint_and_leaves_nothing(tmp_path):
    # Schema-valid and harmless, but its ticket names the cause: `fault lint` refuses it, so import does.
    faults = tmp_path / "faults"
    faults.mkdir()
    src = _good(tmp_path)
    (src / "ticket.en.md.j2").write_text("Hello, printer-offline is broken.\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        provenance.import_recipe(src, faults)
    assert "fails lint" in err.value.message and "names the fault" in err.value.message
    assert list(faults.iterdir()) == []


def test_import_refuses_overwriting_unless_replace(tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    src = _good(tmp_path)
    provenance.import_recipe(src, faults)
    (src / "README.md").write_text((src / "README.md").read_text() + "\nnew words\n", encoding="utf-8")
    with pytest.raises(AlreadyExistsError):
        provenance.import_recipe(src, faults)
    assert "new words" not in (faults / "printer-offline" / "README.md").read_text()
    provenance.import_recipe(src, faults, replace=True)
    assert "new words" in (faults / "printer-offline" / "README.md").read_text()
    assert [p.name for p in faults.iterdir()] == ["printer-offline"]


def test_import_a_tar_gz_and_a_zip(tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    src = _good(tmp_path)
    with tarfile.open(tmp_path / "r.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="printer-offline")
    assert provenance.import_recipe(tmp_path / "r.tar.gz", faults).id == "printer-offline"
    assert (faults / "printer-offline" / "files" / "inject.sh").stat().st_mode & 0o111
    other = _good(tmp_path, "scanner-offline")
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as z:  # the manifest at the top of the archive
        for p in other.rglob("*"):
            if p.is_file():
                z.write(p, p.relative_to(other).as_posix())
    assert provenance.import_recipe(tmp_path / "r.zip", faults).id == "scanner-offline"


@pytest.mark.parametrize("member", ["../evil.sh", "printer-offline/../../evil.sh", "/tmp/evil.sh"])
def test_import_refuses_an_archive_that_climbs_out(tmp_path, member):
    faults = tmp_path / "faults"
    faults.mkdir()
    src = _good(tmp_path)
    archive = tmp_path / "r.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="printer-offline")
        info = tarfile.TarInfo(member)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    with pytest.raises(ConfigError, match="no absolute path, no '..'"):
        provenance.import_recipe(archive, faults)
    assert list(faults.iterdir()) == []
    assert not (tmp_path / "evil.sh").exists() and not Path("/tmp/evil.sh").exists()
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as z:
        z.writestr(member, "x\n")
    with pytest.raises(ConfigError, match="no absolute path, no '..'"):
        provenance.import_recipe(tmp_path / "r.zip", faults)
    assert list(faults.iterdir()) == []


def test_import_refuses_links_in_an_archive(tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    archive = tmp_path / "r.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(_good(tmp_path), arcname="printer-offline")
        info = tarfile.TarInfo("printer-offline/files/etc")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(info)
    with pytest.raises(ConfigError, match="files and folders only"):
        provenance.import_recipe(archive, faults)
    assert list(faults.iterdir()) == []


def test_fault_import_command(run, tmp_path):
    src = _good(tmp_path)
    res = run("fault", "import", str(src))
    assert res.exit_code == 0, res.output
    assert "printer-offline: imported" in res.stdout
    res = run("fault", "import", str(src))
    assert res.exit_code == 4 and "--replace" in res.output
    assert run("fault", "import", str(src), "--replace").exit_code == 0
