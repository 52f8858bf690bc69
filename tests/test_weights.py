"""sdbrain-weights fetches, verifies and refuses, against a local HTTP server on 127.0.0.1 that serves files in
the published formats (torchvision state_dicts, SwAV's DDP checkpoint, Hugging Face repositories with their
tree listings)."""
import hashlib
import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import torchvision
import yaml

from conftest import ROOT
from sdbrain import weights
from test_networks import _clip_directory, _random_state, _swav_checkpoint


class Hub(SimpleHTTPRequestHandler):
    """Static files, plus the hub's URL layout: /{repo}/resolve/{rev}/{path} and /api/models/{repo}/tree/{rev}/{dir}."""

    def translate_path(self, path):
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "models"] and "tree" in parts:
            i = parts.index("tree")
            return str(Path(self.directory) / "_trees" / "/".join(parts[2:i]) / "/".join(parts[i + 2:]) / "tree.json")
        if "resolve" in parts:
            i = parts.index("resolve")
            return str(Path(self.directory) / "/".join(parts[:i]) / "/".join(parts[i + 2:]))
        return super().translate_path(path)

    def log_message(self, *args):
        pass


def _tree(served: Path, repo: str, files: list[str], lfs=(".safetensors", ".bin")):
    """The hub's listing of each folder: git blob SHA-1 for small files, SHA-256 under 'lfs' for weights."""
    by_folder = {}
    for f in files:
        path = served / repo / f
        entry = {"type": "file", "path": f, "size": path.stat().st_size, "oid": weights.git_blob_sha1(path)}
        if f.endswith(lfs):
            entry["lfs"] = {"oid": hashlib.sha256(path.read_bytes()).hexdigest(), "size": path.stat().st_size}
        by_folder.setdefault(str(Path(f).parent) if "/" in f else "", []).append(entry)
    for folder, entries in by_folder.items():
        out = served / "_trees" / repo / folder / "tree.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(entries))


@pytest.fixture(scope="module")
def server(tmp_path_factory, pipe):
    served = tmp_path_factory.mktemp("served")
    (served / "models").mkdir()
    state = _random_state(torchvision.models.efficientnet_b1(weights=None), 0)
    good = served / "models/efficientnet_b1.pth"
    torch.save(state, good)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    torch.save(_swav_checkpoint(), served / "models/swav_800ep_pretrain.pth.tar")
    corrupt = served / "models/alexnet-corrupt.pth"  # a truncated download of a real-format file
    corrupt.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (served / "models/not_a_network.pth").write_bytes(b"<html>404</html>")
    clip_files = ["config.json", "model.safetensors"]
    _clip_directory(served / "openai/clip-small")
    _tree(served, "openai/clip-small", clip_files)
    sd_root = served / "CompVis/sd-small"
    pipe.save_pretrained(sd_root, safe_serialization=True)
    sd_files = sorted(str(p.relative_to(sd_root)) for p in sd_root.rglob("*") if p.is_file())
    _tree(served, "CompVis/sd-small", sd_files)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Hub, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    sources = {
        "hub": base,
        "files": {"efficientnet_b1": {"url": f"{base}/models/efficientnet_b1.pth", "sha256_prefix": digest[:8]},
                  "swav_resnet50": {"url": f"{base}/models/swav_800ep_pretrain.pth.tar", "sha256": None}},
        "repos": {"clip": {"repo": "openai/clip-small", "revision": "main", "files": clip_files},
                  "sd": {"repo": "CompVis/sd-small", "revision": "main", "files": sd_files}},
    }
    yield {"base": base, "sources": sources, "served": served, "digest": digest, "state": state}
    httpd.shutdown()


def _write_sources(path, sources):
    path.write_text(yaml.safe_dump(sources))
    return path


def test_fetch_downloads_checks_and_prints_config(server, tmp_path):
    """The console command, end to end: every file in place, loadable, and the config lines that name them."""
    out = tmp_path / "weights"
    result = subprocess.run([str(Path(sys.executable).parent / "sdbrain-weights"), "fetch", str(out), "--with-sd",
                             "--sources", str(_write_sources(tmp_path / "sources.yaml", server["sources"]))],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = yaml.safe_load(result.stdout)
    assert lines["model_dir"] == str(out / "sd-small")
    assert lines["evaluate"]["weights"] == {"efficientnet_b1": str(out / "efficientnet_b1.pth"),
                                            "swav_resnet50": str(out / "swav_800ep_pretrain.pth.tar"),
                                            "clip": str(out / "clip-small")}
    assert "SHA-256 checked" in result.stderr and "no published hash" in result.stderr
    loaded = torch.load(out / "efficientnet_b1.pth", weights_only=True)
    assert all(torch.equal(loaded[k], v) for k, v in server["state"].items())
    from sdbrain.evaluation import networks
    from sdbrain.sd import pipeline
    networks.build_network("clip", lines["evaluate"]["weights"]["clip"], 0, {})
    pipeline.check_model_dir(lines["model_dir"])
    assert not list(out.rglob("*.part")), "no temporary file is left"


def test_a_file_that_fails_its_hash_is_refused_and_removed(server, tmp_path):
    sources = dict(server["sources"], files={"alexnet": {"url": f"{server['base']}/models/alexnet-corrupt.pth",
                                                         "sha256_prefix": server["digest"][:8]}})
    out = tmp_path / "w"
    code = weights.main(["fetch", str(out), "--only", "alexnet",
                         "--sources", str(_write_sources(tmp_path / "s.yaml", sources))])
    assert code == 1
    assert list(out.iterdir()) == [], "nothing written"


def test_refusals_name_the_file(server, tmp_path, capsys):
    base = server["base"]
    cases = [
        ({"alexnet": {"url": f"{base}/models/alexnet-corrupt.pth", "sha256_prefix": server["digest"][:8]}},
         r"alexnet-corrupt.pth from .*: SHA-256 \w+\.\.\. does not start with the published "),
        ({"alexnet": {"url": f"{base}/models/not_a_network.pth", "sha256": None}},
         r"not_a_network.pth from .* does not load as alexnet: .*not a readable torch checkpoint"),
        ({"alexnet": {"url": f"{base}/models/efficientnet_b1.pth", "sha256": "0" * 64}},
         r"efficientnet_b1.pth from .*: SHA-256 \w+ is not the published 0000"),
        ({"alexnet": {"url": f"{base}/models/efficientnet_b1.pth", "sha256": None}},
         r"does not load as alexnet: .*do not fit alexnet: \d+ missing key"),
        ({"alexnet": {"url": f"{base}/models/absent.pth", "sha256": None}}, r"download of .*absent.pth failed"),
    ]
    for files, message in cases:
        out = tmp_path / "w"
        code = weights.main(["fetch", str(out), "--only", "alexnet",
                             "--sources", str(_write_sources(tmp_path / "s.yaml", dict(server["sources"], files=files)))])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1
        assert pytest.importorskip("re").search(message, err[0]), err[0]
        assert list(out.iterdir()) == []


def test_a_hub_file_whose_hash_differs_from_the_listing_is_refused(server, tmp_path):
    served = server["served"]
    tree = served / "_trees/openai/clip-small/tree.json"
    original = tree.read_text()
    entries = json.loads(original)
    for e in entries:
        if e["path"] == "model.safetensors":
            e["lfs"]["oid"] = "f" * 64
    tree.write_text(json.dumps(entries))
    try:
        with pytest.raises(weights.InputError, match=r"openai/clip-small@main/model.safetensors: SHA-256 \w+ is not the "
                                                     r"listed f{64}"):
            weights.fetch(tmp_path / "w", server["sources"], only=["clip"])
    finally:
        tree.write_text(original)
    assert not (tmp_path / "w/clip-small").exists() and not (tmp_path / "w/clip-small.tmp").exists()


def test_shipped_sources_name_the_published_files():
    sources = weights.read_sources(ROOT / "config/weights.yaml")
    for name, entry in sources["files"].items():
        prefix = entry.get("sha256_prefix")
        assert prefix is None or f"-{prefix}." in entry["url"], f"{name}: the hash prefix is the one in the file name"
    assert sources["files"]["swav_resnet50"]["url"].endswith("swav_800ep_pretrain.pth.tar")
    assert sources["repos"]["clip"]["repo"] == "openai/clip-vit-large-patch14"
    assert sources["repos"]["sd"]["repo"] == "CompVis/stable-diffusion-v1-4"
    assert set(sources["archives"]) == {"vgg19", "generator_relu7"}
    assert all(len(entry["md5"]) == 32 for entry in sources["archives"].values())


def _zip(folder: Path, out: Path, top: str) -> Path:
    """A zip of ``folder`` under the top-level name ``top``, as the published archives hold their files."""
    import zipfile
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder)}")
    return out


def test_gan_archives_are_md5_checked_unpacked_and_loaded_strictly(tmp_path, capsys):
    from sdbrain.gan import networks
    from sdbrain.toy import gan as toy_gan
    from test_gan import TOY, write_folders
    vgg, gen = write_folders(tmp_path / "made", toy_gan.random_encoder(TOY),
                             networks.linear_generator(**toy_gan.generator_arch(TOY)),
                             {k: (8,) for k in networks.LAYERS}, 32, TOY)
    served = tmp_path / "served"
    served.mkdir()
    vgg_zip = _zip(vgg, served / "VGG_ILSVRC_19_layers.zip", "VGG_ILSVRC_19_layers")
    gen_zip = _zip(gen, served / "generator.zip", "bvlc_reference_caffenet_generator_ILSVRC2012_Training")
    (served / "broken.zip").write_bytes(vgg_zip.read_bytes()[:200])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Hub, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    md5 = lambda path: hashlib.md5(path.read_bytes()).hexdigest()  # noqa: E731, S324
    archives = {"vgg19": {"url": f"{base}/VGG_ILSVRC_19_layers.zip", "file": "VGG_ILSVRC_19_layers.zip", "md5": md5(vgg_zip)},
                "generator_relu7": {"url": f"{base}/generator.zip", "file": "generator.zip", "md5": md5(gen_zip)}}
    sources = {"hub": base, "files": {}, "repos": {}, "archives": archives}
    try:
        out = tmp_path / "w"
        code = weights.main(["fetch", str(out), "--only", "vgg19", "generator_relu7",
                             "--sources", str(_write_sources(tmp_path / "s.yaml", sources))])
        assert code == 0
        lines = yaml.safe_load(capsys.readouterr().out)
        assert lines == {"gan": {"encoder_dir": str(out / "vgg19"), "generator_dir": str(out / "generator_relu7")}}
        assert networks.load_encoder(out / "vgg19").image_size == 32
        assert networks.load_generator(out / "generator_relu7").latent_size == 2 * TOY["components"]
        assert sorted(p.name for p in out.iterdir()) == ["generator_relu7", "vgg19"], "the zips are not kept"
        # a corrupted download fails its MD5; a zip that passes a wrong MD5 listing but is not a zip is refused
        for entry, message in ((dict(archives["vgg19"], md5="0" * 32), r"MD5 \w+ is not the published 0{32}"),
                               (dict(archives["vgg19"], url=f"{base}/broken.zip", md5=None), "not a zip archive")):
            bad = tmp_path / "bad"
            code = weights.main(["fetch", str(bad), "--only", "vgg19", "--sources",
                                 str(_write_sources(tmp_path / "s.yaml", dict(sources, archives={"vgg19": entry})))])
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 1 and len(err) == 1 and pytest.importorskip("re").search(message, err[0]), err
            assert list(bad.iterdir()) == []
    finally:
        httpd.shutdown()
