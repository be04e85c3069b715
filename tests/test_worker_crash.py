"""A worker SIGKILLed in the middle of a send: the message is not sent a second time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from helpline.models import Message, utcnow
from helpline.runtime import set_process_runtime
from tests.support import post_twilio, run_jobs, sms
from workers.scheduler import run_round


def test_worker_killed_mid_send_does_not_send_twice(app, client, fakes, redis_server, tmp_path):
    rt = app.extensions["helpline"]
    cfg = rt.config
    env = dict(os.environ, HELPLINE_DATA_DIR=str(cfg.data_dir), DATABASE_URL=cfg.database_url,
               REDIS_URL=cfg.redis_url, SECRET_KEY=cfg.secret_key, HELPLINE_ENCRYPTION_KEY=cfg.encryption_key,
               PUBLIC_BASE_URL=cfg.public_base_url, TWILIO_ACCOUNT_SID=cfg.twilio_account_sid,
               TWILIO_AUTH_TOKEN=cfg.twilio_auth_token, TWILIO_SMS_NUMBER=cfg.twilio_sms_number,
               TWILIO_API_BASE_URL=cfg.twilio_api_base_url)
    fakes.hold.clear()  # the provider will hang on the first send
    post_twilio(client, sms("+4915100001001", "Hello"))
    set_process_runtime(rt)
    with app.app_context():
        from workers.dispatch import dispatch_pending
        assert dispatch_pending(rt) == 1  # what the scheduler's dispatcher does
    worker = subprocess.Popen([sys.executable, "-m", "helpline.cli", "worker", "high", "default"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert fakes.arrived.wait(90), "the worker never called the provider"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    fakes.hold.set()  # the hanging request completes now: the provider did receive it once
    with rt.db.session() as s:
        out = s.scalar(select(Message).where(Message.direction == "out"))
        assert out.status == "sending"
        out.created_at = utcnow() - timedelta(hours=1)
    run_jobs(app)  # whatever is left in the queues (RQ may requeue the abandoned job)
    set_process_runtime(rt)
    with app.app_context():
        counts = run_round(rt, stuck_queued_seconds=0)
    run_jobs(app)
    assert counts["interrupted"] == 1
    with rt.db.session() as s:
        out = s.scalar(select(Message).where(Message.direction == "out"))
        assert (out.status, out.error_code) == ("failed", "interrupted")
    assert len(fakes.messages("+4915100001001")) <= 1  # at most the one the provider got before the kill
