"""``sdbrain-weights fetch DIR``: download, check and list the published evaluation weights.

``sdbrain-weights blip OUT --hub DIR [--original PTH]`` writes the decoded-text method's BLIP folder.

It downloads the published evaluation weights (and optionally SD v1.4) once, on a machine with
internet, checks each file, and prints the config lines that use them.

The workflow itself never downloads: every stage reads local files. Where the sources are
is config (``config/weights.yaml``), so the command can be pointed at a mirror.

Checks, per file:
- torchvision's files carry the first hex digits of their SHA-256 in their name, which is
  what torch.hub checks (``sha256_prefix``); a full ``sha256`` is checked where given;
- Hugging Face repositories publish every file's hash in their tree listing: SHA-256 of
  large (LFS) files, the git blob SHA-1 of small ones;
- SwAV's checkpoint has no published hash: its SHA-256 is printed for the record;
- the GAN init's archives (``archives``: the Kamitani lab's zips of VGG19 and the relu7 generator) are checked
  against the MD5 their publisher lists, unpacked into ``DIR/<name>`` and loaded strictly;
- every evaluation file is then loaded strictly as the workflow will load it, and SD's
  directory checked as a diffusers pipeline.
A file that fails a check is deleted (it is downloaded under a temporary name) and the
command stops with one line naming it and a non-zero exit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from sdbrain.data.io import atomic_dir
from sdbrain.errors import InputError

DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "config" / "weights.yaml"  # the checkout's config/
CHUNK = 1 << 20
# the decoded-text method's BLIP (fetched with --only, converted by `sdbrain-weights blip`)
BLIP = ("blip", "blip_original")
# the GAN init's folders and the config key each one sets (fetched with --only)
GAN = {"vgg19": "encoder_dir", "generator_relu7": "generator_dir"}


def read_sources(path: str | Path) -> dict:
    """Read the YAML file of download locations and hashes; it must have the keys hub, files and repos."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights sources '{path}': no such file")
    sources = yaml.safe_load(path.read_text()) or {}
    for key in ("hub", "files", "repos"):
        if key not in sources:
            raise InputError(f"weights sources '{path}': key '{key}' is missing")
    return sources


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 -- the URLs are the user's config
    except OSError as error:
        raise InputError(f"download of {url} failed: {getattr(error, 'reason', error)}") from None


def download(url: str, target: Path, timeout: float = 60) -> dict[str, str]:
    """Stream ``url`` to ``target`` under a temporary name (``part``) and hash it as it streams."""
    part = target.with_name(target.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    sha256, md5 = hashlib.sha256(), hashlib.md5()  # noqa: S324 -- MD5 is what some publishers list
    with _open(url, timeout) as response, open(part, "wb") as out:
        while chunk := response.read(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            out.write(chunk)
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest(), "part": str(part)}


def git_blob_sha1(path: str | Path) -> str:
    r"""Return the id git (and the hub) gives a small file: SHA-1 of 'blob <size>\0' and the content."""
    data = Path(path).read_bytes()
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()  # noqa: S324 -- git's id, not security


def _refuse(part: str, message: str):
    Path(part).unlink(missing_ok=True)
    raise InputError(message)


def fetch_file(name: str, entry: dict, directory: Path, timeout: float) -> Path:
    """Fetch one evaluation weight file: download it, check its hash, load it strictly; return its path."""
    from sdbrain.evaluation.networks import build_network
    url = entry["url"]
    target = directory / Path(urllib.parse.urlparse(url).path).name
    got = download(url, target, timeout)
    if entry.get("sha256") and got["sha256"] != entry["sha256"]:
        _refuse(got["part"], f"{target.name} from {url}: SHA-256 {got['sha256']} is not the published {entry['sha256']}")
    if entry.get("sha256_prefix") and not got["sha256"].startswith(entry["sha256_prefix"]):
        _refuse(got["part"], f"{target.name} from {url}: SHA-256 {got['sha256'][:16]}... does not start with the "
                             f"published {entry['sha256_prefix']}")
    try:
        build_network(name, got["part"], seed=0, clip_config={})
    except InputError as error:
        _refuse(got["part"], f"{target.name} from {url} does not load as {name}: {error}")
    Path(got["part"]).replace(target)
    checked = "SHA-256 checked" if entry.get("sha256") or entry.get("sha256_prefix") else "no published hash"
    print(f"{name}: {target} ({checked}; sha256 {got['sha256']}; loads strictly)", file=sys.stderr)
    return target


def fetch_archive(name: str, entry: dict, directory: Path, timeout: float) -> Path:
    """Fetch one of the GAN init's zip archives: download, check its MD5, unpack to ``directory/name``, load strictly."""
    import zipfile

    from sdbrain.gan import networks
    url, target = entry["url"], directory / name
    got = download(url, directory / entry["file"], timeout)
    if entry.get("md5") and got["md5"] != entry["md5"]:
        _refuse(got["part"], f"{entry['file']} from {url}: MD5 {got['md5']} is not the published {entry['md5']}")
    try:
        with atomic_dir(target) as staging:   # checked whole before it takes the target's place
            try:
                with zipfile.ZipFile(got["part"]) as archive:
                    archive.extractall(staging)
            except zipfile.BadZipFile:
                raise InputError(f"{entry['file']} from {url}: not a zip archive") from None
            load = networks.load_encoder if name == "vgg19" else networks.load_generator
            try:
                load(staging)
            except InputError as error:
                raise InputError(f"{entry['file']} from {url} does not load as {name}: {error}") from None
    finally:
        Path(got["part"]).unlink(missing_ok=True)
    checked = "MD5 checked" if entry.get("md5") else "no published hash"
    print(f"{name}: {target} ({checked}; sha256 {got['sha256']}; loads strictly)", file=sys.stderr)
    return target


def repo_tree(hub: str, repo: str, revision: str, folder: str, timeout: float) -> dict[str, dict]:
    """Read the hub's tree listing of one folder of a repository: path -> entry, files only."""
    url = f"{hub}/api/models/{repo}/tree/{revision}" + (f"/{folder}" if folder else "")
    with _open(url, timeout) as response:
        try:
            entries = json.loads(response.read())
        except json.JSONDecodeError:
            raise InputError(f"{url}: not a JSON tree listing") from None
    return {e["path"]: e for e in entries if e.get("type") == "file"}


def fetch_repo(name: str, entry: dict, hub: str, directory: Path, timeout: float) -> Path:
    """Fetch files of a Hugging Face repository, each checked against the hash the hub lists for it."""
    repo, revision = entry["repo"], entry.get("revision", "main")
    target = directory / repo.split("/")[-1]
    listings: dict[str, dict] = {}
    for folder in sorted({str(Path(f).parent) if "/" in f else "" for f in entry["files"]}):
        listings.update(repo_tree(hub, repo, revision, folder, timeout))
    with atomic_dir(target) as staging:  # checked whole before it takes the target's place
        for path in entry["files"]:
            listed = listings.get(path)
            if listed is None:
                raise InputError(f"{repo}@{revision}: the hub lists no file '{path}'")
            got = download(f"{hub}/{repo}/resolve/{revision}/{path}", staging / path, timeout)
            expected, actual, kind = ((listed["lfs"]["oid"], got["sha256"], "SHA-256") if listed.get("lfs")
                                      else (listed["oid"], git_blob_sha1(got["part"]), "git blob SHA-1"))
            if actual != expected:
                raise InputError(f"{repo}@{revision}/{path}: {kind} {actual} is not the listed {expected}")
            Path(got["part"]).replace(staging / path)
        if name == "clip":
            from sdbrain.evaluation.networks import load_clip
            load_clip(staging)
        elif name == "blip":
            from sdbrain.text import blip
            blip.load_tokenizer(staging, blip.load(staging))
        else:
            from sdbrain.sd.pipeline import check_model_dir
            check_model_dir(staging)
    print(f"{name}: {target} ({len(entry['files'])} files, each checked against the hub's listed hash)", file=sys.stderr)
    return target


def config_lines(paths: dict[str, Path]) -> str:
    """Return the config lines (YAML) that use the fetched files: ``model_dir`` for SD, ``evaluate.weights``."""
    lines = []
    if "sd" in paths:
        lines.append(f"model_dir: {paths['sd']}")
    weights = {k: v for k, v in paths.items() if k not in ("sd", *BLIP, *GAN)}
    if weights:
        lines += ["evaluate:", "  weights:"] + [f"    {k}: {v}" for k, v in weights.items()]
    gan = {key: paths[name] for name, key in GAN.items() if name in paths}
    if gan:
        lines += ["gan:"] + [f"  {k}: {v}" for k, v in gan.items()]
    return "\n".join(lines)


def fetch(directory: str | Path, sources: dict, only=None, with_sd: bool = False, timeout: float = 60) -> dict[str, Path]:
    """Fetch and check the weights named in ``only`` (default: every evaluation network, and SD with ``with_sd``).

    Files go under ``directory``; returns name -> local path (a file, or a repository's folder).
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    wanted = list(only) if only else [*[f for f in sources["files"] if f not in BLIP],
                                      *[r for r in sources["repos"] if r not in BLIP and (r != "sd" or with_sd)]]
    archives = sources.get("archives") or {}
    unknown = [n for n in wanted if n not in sources["files"] and n not in sources["repos"] and n not in archives]
    if unknown:
        raise InputError(f"sdbrain-weights: unknown name(s) {unknown}; the sources list "
                         f"{sorted([*sources['files'], *sources['repos'], *archives])}")
    paths = {}
    for name in wanted:
        if name in archives:
            paths[name] = fetch_archive(name, archives[name], directory, timeout)
        elif name in sources["files"]:
            paths[name] = fetch_file(name, sources["files"][name], directory, timeout)
        else:
            paths[name] = fetch_repo(name, sources["repos"][name], sources["hub"].rstrip("/"), directory, timeout)
    return paths


def main(argv=None) -> int:
    """Run ``sdbrain-weights``; return the exit status (1 with one line on stderr where a check fails)."""
    parser = argparse.ArgumentParser(prog="sdbrain-weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download, check and list the weights")
    get.add_argument("directory")
    get.add_argument("--sources", default=str(DEFAULT_SOURCES), help="YAML file of download locations and hashes")
    get.add_argument("--only", nargs="+", help="names to fetch (default: every evaluation network)")
    get.add_argument("--with-sd", action="store_true", help="also Stable Diffusion v1.4 in diffusers format (about 5 GB)")
    get.add_argument("--timeout", type=float, default=60, help="seconds without data before a download fails")
    convert = sub.add_parser("blip", help="write the BLIP folder of the decoded-text method (text.captioner_dir)")
    convert.add_argument("out", help="the folder to write")
    convert.add_argument("--hub", required=True, help="the fetched hub folder (blip-image-captioning-base): its "
                                                      "tokenizer, and its weights where --original is not given")
    convert.add_argument("--original", help="model_base_capfilt_large.pth: convert the released checkpoint "
                                            "(the released recipe, 14 -> 15 position grid) instead of resizing the hub's")
    convert.add_argument("--image-size", type=int, default=240, help="BLIP's input size (the released recipe: 240)")
    args = parser.parse_args(argv)
    try:
        if args.command == "blip":
            out = blip_folder(args.out, args.hub, args.original, args.image_size)
            print("# add to your config (e.g. config/nsd.yaml):")
            print(f"text:\n  captioner_dir: {out}\n  image_size: {args.image_size}")
            return 0
        paths = fetch(args.directory, read_sources(args.sources), args.only, args.with_sd, args.timeout)
    except InputError as error:
        print(f"sdbrain-weights: {error}", file=sys.stderr)
        return 1
    print("# add to your config (e.g. config/nsd.yaml):")
    print(config_lines(paths))
    if set(paths) & set(BLIP):
        print("# then write the BLIP folder: sdbrain-weights blip OUT --hub DIR/blip-image-captioning-base "
              "[--original DIR/model_base_capfilt_large.pth]")
    return 0


def blip_folder(out: str | Path, hub: str | Path, original: str | Path | None, image_size: int,
                blip_config=None) -> Path:
    """Write BLIP at ``image_size`` to ``out``, from the original checkpoint or from the hub folder.

    Where ``original`` is given, it is converted (with the hub folder's tokenizer); else the hub folder's weights
    are taken, their position embeddings resized.

    ``blip_config``: the converted architecture (default ``blip.config(image_size)``, ViT-B; the tests' tiny one).
    """
    from sdbrain.text import blip
    if original is not None:
        path = blip.convert(original, out, image_size, blip_config, tokenizer_dir=hub)
    else:
        path = blip.resize(hub, out, image_size)
    print(f"blip: {path} at {image_size} px ({'converted from ' + str(original) if original else 'resized from ' + str(hub)})",
          file=sys.stderr)
    return Path(path).resolve()


if __name__ == "__main__":
    sys.exit(main())
