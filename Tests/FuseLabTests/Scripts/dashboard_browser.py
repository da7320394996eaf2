#!/usr/bin/python3
"""Drives headless Chromium (Debian's chromium + chromium-driver, through python3-selenium) for
the dashboard lab test. Reads one JSON command per line on stdin and answers one JSON line on
stdout each:

  {"cmd": "open", "url": URL}                       load the page
  {"cmd": "login", "token": T}                      type T into the login form and submit
  {"cmd": "click", "css": SELECTOR}                 click an element
  {"cmd": "wait", "js": EXPR, "timeout": S}         until the expression is truthy: {"ok", "seconds", "value"}
  {"cmd": "eval", "js": EXPR}                       its value (async expressions are awaited)
  {"cmd": "screenshot", "path": FILE}               a PNG of the window
  {"cmd": "quit"}

The browser trusts the federation's certificate by its CA's public-key pin
(--ignore-certificate-errors-spki-list), as an operator's browser would trust the CA.
"""
import base64
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser(spki_hex):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                     "--ignore-certificate-errors-spki-list=" + base64.b64encode(bytes.fromhex(spki_hex)).decode()]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def evaluate(driver, expression):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.resolve().then(async () => (" + expression + ")).then(done, (e) => done({error: String(e)}));")


def main():
    spki = sys.argv[1]
    driver = browser(spki)
    driver.set_script_timeout(30)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            answer = {"ok": True}
            try:
                kind = command["cmd"]
                if kind == "open":
                    driver.get(command["url"])
                elif kind == "login":
                    field = driver.find_element(By.ID, "token")
                    field.clear()
                    field.send_keys(command["token"])
                    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
                elif kind == "click":
                    driver.find_element(By.CSS_SELECTOR, command["css"]).click()
                elif kind == "wait":
                    started = time.monotonic()
                    deadline = started + float(command.get("timeout", 10))
                    value = None
                    while True:
                        value = evaluate(driver, command["js"])
                        if value and not (isinstance(value, dict) and "error" in value):
                            break
                        if time.monotonic() > deadline:
                            answer["ok"] = False
                            break
                        time.sleep(0.05)
                    answer.update(seconds=time.monotonic() - started, value=value)
                elif kind == "eval":
                    answer["value"] = evaluate(driver, command["js"])
                elif kind == "screenshot":
                    answer["ok"] = driver.save_screenshot(command["path"])
                elif kind == "quit":
                    break
                else:
                    answer = {"ok": False, "error": "unknown command " + kind}
            except Exception as error:  # one line for the test's message
                answer = {"ok": False, "error": (type(error).__name__ + ": " + str(error)).splitlines()[0]}
            print(json.dumps(answer), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
