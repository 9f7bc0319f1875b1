"""CI step: render every page of a report in headless Chromium and screenshot its index; fail on a page that does
not render, a broken image or a Python traceback. Usage: python tests/check_report_in_chromium.py figures/mini/report"""
import shutil, subprocess, sys
from pathlib import Path

from simarch.report import report_problems

BROWSER = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--virtual-time-budget=5000']

def chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if exe is None: raise SystemExit('check_report: no chromium on PATH (Debian: apt-get install chromium)')
    return subprocess.run([exe, *BROWSER, *args], capture_output=True, text=True, timeout=300)

def main(report: Path) -> None:
    pages = sorted(report.glob('*.html'))
    if not (report/'index.html').is_file(): raise SystemExit(f'check_report: {report}/index.html missing')
    problems = report_problems(report)
    for page in pages:
        dom = chromium('--dump-dom', page.resolve().as_uri())
        if dom.returncode != 0 or '</body>' not in dom.stdout:
            problems.append(f'{page.name}: Chromium did not render it (exit {dom.returncode})')
        elif 'Traceback (most recent call last)' in dom.stdout:
            problems.append(f'{page.name}: a Python traceback in the rendered page')
    shot = chromium('--window-size=1200,1000', f'--screenshot={(report/"screenshot.png").resolve()}',
                    (report/'index.html').resolve().as_uri())
    if shot.returncode != 0: problems.append(f'index.html: no screenshot (exit {shot.returncode})')
    for p in problems: print(p)
    if problems: raise SystemExit(f'check_report: {len(problems)} problem(s) in {report}')
    print(f'check_report: {len(pages)} pages of {report} render in Chromium, every image loads, no traceback; '
          f'screenshot {report}/screenshot.png')

if __name__ == '__main__': main(Path(sys.argv[1] if len(sys.argv) > 1 else 'figures/mini/report'))
