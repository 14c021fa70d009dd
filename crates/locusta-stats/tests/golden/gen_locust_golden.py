import io, csv, json, time
import locust.stats as S
from locust.stats import RequestStats, StatsCSV
T = [1700000000.25]
S.time.time = lambda: T[0]
S.STATS_NAME_WIDTH = 80
stats = RequestStats()
# samples: (t, method, name, rt, len, err)
samples = []
for i in range(20):
    samples.append((1700000001.5 + i*0.5, "GET", "/", [2,4,6][i%3], 100, None))
for i in range(6):
    samples.append((1700000002.1 + i, "POST", "/login", 10*(i+1), 50, "HTTPError('500 Server Error')" if i%2 else None))
for i in range(3):
    samples.append((1700000003.3 + i, "CUSTOM", "nonetime", None, 0, None))
samples.append((1700000004.0, "GET", "/a,b \"q\"", 200, 10, "ConnectionError('boom')"))
samples.sort(key=lambda s: s[0])
for t, m, n, rt, ln, err in samples:
    T[0] = t
    stats.log_request(m, n, rt, ln)
    if err:
        stats.log_error(m, n, err)
T[0] = 1700000012.0
class Env: pass
env = Env(); env.stats = stats
class R: pass
env.runner = R(); env.runner.exceptions = {1: {"count": 2, "msg": "kaboom", "traceback": '  File "x.py", line 1\n    raise ValueError("kaboom")\n', "nodes": {"local"}}}
out = {}
out["table_current"] = "\n".join(S.get_stats_summary(stats, True)) + "\n\n"
out["table_total"] = "\n".join(S.get_stats_summary(stats, False)) + "\n\n"
out["percentiles"] = "\n".join(S.get_percentile_stats_summary(stats)) + "\n\n"
out["errors"] = "\n".join(S.get_error_report_summary(stats)) + "\n"
w = StatsCSV(env, S.PERCENTILES_TO_REPORT)
for k, f in [("stats_csv", w.requests_csv), ("failures_csv", w.failures_csv), ("exceptions_csv", w.exceptions_csv)]:
    b = io.StringIO(); f(csv.writer(b)); out[k] = b.getvalue()
fw = S.StatsCSVFileWriter.__new__(S.StatsCSVFileWriter)
fw.environment = env; fw.percentiles_to_report = S.PERCENTILES_TO_REPORT; fw.percentiles_na = ["N/A"]*11
env.runner.user_count = 3
for full in (False, True):
    fw.full_history = full
    b = io.StringIO(); fw._stats_history_data_rows(csv.writer(b), 1700000012.0); out["history_full" if full else "history"] = b.getvalue()
out["json"] = json.dumps(stats.serialize_stats(), indent=4)
for k, v in out.items():
    open(k + ".txt", "w", newline="").write(v)
