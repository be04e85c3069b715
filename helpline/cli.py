"""The `helpline` command (CONTRACT 1)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from helpline.config import Config, ConfigError
from helpline.errors import ContentError, StaffFileError


def _config(require_secret: bool = True) -> Config:
    # every command may run on the embedded default, where the secret is kept in the data dir
    cfg = Config.from_env(require_secret=False)
    if require_secret and not os.environ.get("SECRET_KEY") and not cfg.embedded_database:
        raise ConfigError("SECRET_KEY is required with an external DATABASE_URL")
    return cfg


def _runtime(cfg: Config):  # type: ignore[no-untyped-def]
    from helpline import crypto
    from helpline.db import Database
    from helpline.runtime import Runtime, set_process_runtime
    crypto.configure(cfg)
    rt = Runtime(cfg, Database(cfg.database_url))
    set_process_runtime(rt)
    return rt


def cmd_serve(args: argparse.Namespace) -> int:
    from helpline.serve import serve
    return serve(args.host, args.port, demo=args.demo)


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.run import run_worker
    return run_worker(_config(), args.queues or ["crisis", "high", "default", "low"], burst=args.burst)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from workers.scheduler import run_scheduler
    return run_scheduler(_config(), once=args.once)


def cmd_db(args: argparse.Namespace) -> int:
    from helpline import migrate
    cfg = _config()
    migrate.upgrade(cfg.database_url)
    print(f"database at revision {migrate.head_revision()}")
    return 0


def cmd_staff(args: argparse.Namespace) -> int:
    from helpline.content import TOPICS
    from helpline.staff import do_import_staff, get_staff_by_email, hash_password, parse_staff_file
    rt = _runtime(_config())
    if args.staff_cmd == "import":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as e:
            print(f"{args.file}: cannot read: {e.strerror}", file=sys.stderr)
            return 1
        try:
            entries = parse_staff_file(text, set(TOPICS))
        except StaffFileError as e:
            print(f"{args.file}: {e}", file=sys.stderr)
            return 1
        with rt.db.session() as s:
            counts = do_import_staff(s, entries)
        print(f"staff: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged")
        return 0
    if args.staff_cmd == "set-password":
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            print("the password must have at least 8 characters (read from stdin)", file=sys.stderr)
            return 1
        with rt.db.session() as s:
            staff = get_staff_by_email(s, args.email)
            if staff is None:
                print(f"no staff member with email {args.email}", file=sys.stderr)
                return 1
            staff.password_hash = hash_password(password)
        print(f"password set for {args.email}")
        return 0
    return 2


def cmd_content(args: argparse.Namespace) -> int:
    from helpline.content import check_content, load_content
    if args.content_cmd == "check":
        errors, warnings = check_content()
        if not errors:
            from flows.definitions import check_flows
            errors = check_flows(load_content(strict=False))
        for w in warnings:
            print(f"warning: {w}")
        for e in errors:
            print(f"error: {e}")
        print(f"content: {len(errors)} error(s), {len(warnings)} warning(s)")
        return 1 if errors else 0
    if args.content_cmd == "build":
        from helpline import embeddings
        from helpline.crisis import Screener
        from helpline.faq import FaqIndex
        content = load_content()
        faq = FaqIndex(content)
        print(f"wrote {embeddings.build_shipped('faq', faq.texts)}")
        screener = Screener(content)
        texts = screener.exemplar_texts()
        print(f"wrote {embeddings.build_shipped('crisis', texts)}")
        print(f"wrote {embeddings.build_shipped('crisis-twins', screener.twin_texts())}")
        return 0
    content = load_content()
    print(json.dumps([{"id": e.id, "topic": e.topic, "lang": e.lang, "questions": e.questions,
                       "answer": e.answer} for e in content.faq], ensure_ascii=False, indent=1))
    return 0


def _lines() -> list[str]:
    return [line.rstrip("\n") for line in sys.stdin]


def cmd_crisis(args: argparse.Namespace) -> int:
    from helpline.content import load_content
    from helpline.crisis import describe, shared_screener
    screener = shared_screener(load_content())
    for line in _lines():
        print(json.dumps(describe(screener.screen(line)), ensure_ascii=False), flush=True)
    return 0


def cmd_faq(args: argparse.Namespace) -> int:
    from helpline.content import load_content
    from helpline.faq import FaqIndex
    from helpline.language import detect_language
    content = load_content()
    index = FaqIndex(content)
    for line in _lines():
        lang = detect_language(line).lang or "en"
        m = index.match(line)
        best = m.best if m.found else None  # below the floor: no guess
        print(json.dumps({"lang": lang, "faq_id": best.entry_id if best else None,
                          "topic": best.topic if best else None,
                          "score": round(m.best.score if m.best else 0.0, 4)}, ensure_ascii=False), flush=True)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from helpline.console import run_chat
    return run_chat(_config(), lang=args.lang, number=args.sender)


def cmd_keys(args: argparse.Namespace) -> int:
    from helpline import crypto
    if args.keys_cmd == "new":
        print(crypto.new_key())
        return 0
    from workers.maintenance import rotate_encryption
    rt = _runtime(_config())
    print(f"re-encrypted {rotate_encryption(rt)} values with the newest key")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpline", description="Helpline routing service")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="everything on one machine, in the foreground")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--demo", action="store_true", help="seed a demo volunteer and supervisor")
    s.set_defaults(fn=cmd_serve)
    w = sub.add_parser("worker", help="RQ worker(s)")
    w.add_argument("queues", nargs="*")
    w.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    w.set_defaults(fn=cmd_worker)
    sc = sub.add_parser("scheduler", help="timed work")
    sc.add_argument("--once", action="store_true", help="one round, then exit")
    sc.set_defaults(fn=cmd_scheduler)
    db = sub.add_parser("db", help="database")
    db.add_argument("db_cmd", choices=["upgrade"])
    db.set_defaults(fn=cmd_db)
    st = sub.add_parser("staff", help="staff accounts")
    stsub = st.add_subparsers(dest="staff_cmd", required=True)
    imp = stsub.add_parser("import")
    imp.add_argument("file")
    sp = stsub.add_parser("set-password", help="reads the new password from stdin")
    sp.add_argument("email")
    st.set_defaults(fn=cmd_staff)
    c = sub.add_parser("content", help="content/ checks and export")
    c.add_argument("content_cmd", choices=["check", "export", "build"],
                   help="build: embeddings of the bundled content, shipped in content/embeddings/")
    c.set_defaults(fn=cmd_content)
    cr = sub.add_parser("crisis", help="crisis screening")
    cr.add_argument("crisis_cmd", choices=["classify"])
    cr.set_defaults(fn=cmd_crisis)
    f = sub.add_parser("faq", help="FAQ matching")
    f.add_argument("faq_cmd", choices=["match"])
    f.set_defaults(fn=cmd_faq)
    ch = sub.add_parser("chat", help="talk to the helpline in the terminal")
    ch.add_argument("--lang")
    ch.add_argument("--from", dest="sender", default="+4915100000000")
    ch.set_defaults(fn=cmd_chat)
    k = sub.add_parser("keys", help="encryption keys")
    k.add_argument("keys_cmd", choices=["new", "rotate"])
    k.set_defaults(fn=cmd_keys)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("HELPLINE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # at DEBUG, telegram.Bot logs the bot token, chat ids and texts; twilio's client logs numbers and bodies
    for noisy in ("alembic", "httpx", "twilio.http_client", "rq.worker", "rq.scheduler", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    except ContentError as e:
        print("content errors:\n" + str(e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
