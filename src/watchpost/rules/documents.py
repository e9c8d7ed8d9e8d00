"""Rule files -> Sigma documents: file discovery, YAML, collection actions, translators.

Nothing here parses Sigma; `watchpost.rules.loader` does that with pySigma. Every failure is a
`RuleProblem` naming the file (and the document or rule), and reading goes on with the rest.

Order of work for a file: every YAML document is read (a broken document ends the file, the
documents before it are kept); Sigma collection actions are applied (``action: global`` sets a
template merged into the following documents, ``reset`` clears it, ``repeat`` reuses the previous
document with changes); then each complete document goes through the translators. Merging
follows pySigma's ``SigmaCollection.from_dicts`` except that on a conflict the document's own
value wins over the global template's (pySigma lets the template win); correlation and filter
documents are not merged with the template, as in pySigma.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaCollectionError, SigmaError, SigmaRuleLocation
from sigma.rule.base import check_alias_expansion

from watchpost.rules.model import RuleProblem
from watchpost.rules.rule_yaml import RuleFileTooLarge, check_rule_file_size, read_rule_yaml

Translator = Callable[[dict[str, Any], Path], list[dict[str, Any]]]
RULE_SUFFIXES = frozenset({".yml", ".yaml"})


@dataclass(frozen=True, slots=True)
class RuleDocument:
    """One Sigma document ready for parsing, and where it came from (1-based document number)."""

    path: Path
    number: int
    content: dict[str, Any]

    @property
    def label(self) -> str | None:
        """The rule's title, else its id, as problems name it."""
        return document_label(self.content)


def document_label(content: dict[str, Any]) -> str | None:
    for key in ("title", "id", "name"):
        value = content.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value)
    return None


def find_rule_files(paths: Sequence[Path], problems: list[RuleProblem]) -> list[Path]:
    """``*.yml``/``*.yaml`` under each directory (recursive, sorted) and each named file.

    Files and directories whose names start with ``.`` (``.github`` workflows in a rule
    repository) are skipped inside directories. Links to folders are followed, each folder
    entered once (a link back to a folder above, or two links to one folder, cannot loop or read
    twice). A file named directly is read whatever its suffix. A path reached twice is read once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = sorted(_rule_files_under(path))
        elif path.is_file():
            candidates = [path]
        else:
            problems.append(RuleProblem(str(path), None, "no such file or directory"))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _rule_files_under(directory: Path) -> Iterator[Path]:
    """Rule files under ``directory``, links to folders followed once (by device and inode)."""
    entered: set[tuple[int, int]] = set()
    for folder, subfolders, names in os.walk(directory, followlinks=True):
        try:
            status = os.stat(folder)
        except OSError:
            subfolders.clear()
            continue
        identity = (status.st_dev, status.st_ino)
        if identity in entered:  # a loop, or a second link to a folder already read
            subfolders.clear()
            continue
        entered.add(identity)
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in names:
            path = Path(folder, name)
            if (not name.startswith(".") and path.suffix.lower() in RULE_SUFFIXES and path.is_file()
                    and not path.stem.endswith(".tests")):
                yield path


def read_documents(
    path: Path, translators: Sequence[Translator], problems: list[RuleProblem]
) -> list[RuleDocument]:
    """The Sigma documents of one file, after collection actions and translators."""
    raw = read_yaml_documents(path, problems)
    documents = apply_collection_actions(path, raw, problems)
    if not translators:
        return documents
    translated: list[RuleDocument] = []
    for document in documents:
        translated.extend(translate(document, translators, problems))
    return translated


def read_yaml_documents(path: Path, problems: list[RuleProblem]) -> list[RuleDocument]:
    """Every mapping document of the file; YAML errors end the file (earlier documents stay).

    The file's size, and the numbers and dates it writes, are bounded (`watchpost.rules.rule_yaml`):
    a file over the bound is refused whole, a document with an out-of-bound value alone.
    """
    documents: list[RuleDocument] = []
    source = SigmaRuleLocation(path)
    try:
        check_rule_file_size(path)
        with path.open(encoding="utf-8") as stream:
            for document in read_rule_yaml(stream):
                number, content = document.number, document.content
                if document.refusal is not None:
                    label = document_label(content) if isinstance(content, dict) else None
                    problems.append(RuleProblem(str(path), label, f"document {number}: {document.refusal}"))
                    continue
                if content is None:  # empty document, e.g. after a trailing '---'
                    continue
                if not isinstance(content, dict):
                    reason = f"document {number} is a {type(content).__name__}, not a mapping"
                    problems.append(RuleProblem(str(path), None, reason))
                    continue
                try:
                    check_alias_expansion(content, SigmaCollectionError, source)
                except SigmaError as error:
                    reason = f"document {number}: {sigma_message(error)}"
                    problems.append(RuleProblem(str(path), None, reason))
                    continue
                documents.append(RuleDocument(path, number, content))
    except yaml.YAMLError as error:
        problems.append(RuleProblem(str(path), None, f"invalid YAML: {_one_line(str(error))}"))
    except RuleFileTooLarge as error:
        problems.append(RuleProblem(str(path), None, str(error)))
    except (OSError, UnicodeDecodeError) as error:
        problems.append(RuleProblem(str(path), None, f"cannot read file: {error}"))
    return documents


def apply_collection_actions(
    path: Path, documents: list[RuleDocument], problems: list[RuleProblem]
) -> list[RuleDocument]:
    """Resolve ``action: global|reset|repeat`` documents into complete rule documents."""
    template: dict[str, Any] = {}
    previous: dict[str, Any] | None = None
    complete: list[RuleDocument] = []
    for document in documents:
        content = document.content
        action = content.get("action")
        body = {key: value for key, value in content.items() if key != "action"}
        if action is None:
            if "correlation" in content or "filter" in content:
                complete.append(document)
                continue
            previous = merge_documents(template, body)
            complete.append(RuleDocument(path, document.number, previous))
        elif action == "global":
            template = body
            previous = template
        elif action == "reset":
            template = {}
        elif action == "repeat" and previous is not None:
            previous = merge_documents(previous, body)
            complete.append(RuleDocument(path, document.number, previous))
        else:
            reason = (
                "'action: repeat' without a document before it"
                if action == "repeat"
                else f"unknown Sigma collection action '{action}'"
            )
            problems.append(RuleProblem(str(path), document.label, f"document {document.number}: {reason}"))
    return complete


def merge_documents(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` updated by ``update``; nested mappings merge, ``update`` wins."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = merge_documents(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def translate(
    document: RuleDocument, translators: Sequence[Translator], problems: list[RuleProblem]
) -> list[RuleDocument]:
    """Pass one document through each translator in turn (each may return 0..n documents)."""
    contents = [document.content]
    for translator in translators:
        name = getattr(translator, "__name__", type(translator).__name__)
        produced: list[dict[str, Any]] = []
        for content in contents:
            try:
                result = translator(content, document.path)
            except Exception as error:  # a translator bug must not stop the other files
                reason = f"document {document.number}: translator {name} failed: {error}"
                problems.append(RuleProblem(str(document.path), document_label(content), reason))
                continue
            if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
                reason = f"document {document.number}: translator {name} did not return a list of mappings"
                problems.append(RuleProblem(str(document.path), document_label(content), reason))
                continue
            produced.extend(result)
        contents = produced
    return [RuleDocument(document.path, document.number, content) for content in contents]


def sigma_message(error: Exception) -> str:
    """The message of a (pySigma) error without the " in <path>" suffix pySigma appends."""
    message = Exception.__str__(error) or type(error).__name__
    return _one_line(message)


def _one_line(text: str) -> str:
    return " ".join(text.split())
