"""Packers written for the tests and the bench: each wraps a script the way real packers do
(LZW, p,a,c,k,e,d with a dictionary that static unpacking cannot read, XOR over base64, a
char-code shift), so the only way to the payload is to run the decoder."""

from __future__ import annotations

import base64
import json
import re


def js_string(s: str) -> str:
    """A double-quoted JS literal; everything outside printable ASCII as \\u escapes."""
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}")
    return '"' + "".join(out) + '"'


def lzw(code: str) -> str:
    """`new Function(lzw_decode("..."))()`, the classic LZW-to-string packing."""
    dictionary: dict[str, int] = {}
    out: list[int] = []
    phrase, nxt = code[0], 256
    for c in code[1:]:
        if phrase + c in dictionary:
            phrase += c
            continue
        out.append(dictionary[phrase] if len(phrase) > 1 else ord(phrase))
        dictionary[phrase + c] = nxt
        nxt += 1
        phrase = c
    out.append(dictionary[phrase] if len(phrase) > 1 else ord(phrase))
    packed = "".join(chr(x) for x in out)
    return (
        "function lzw_decode(s) {\n"
        "  var dict = {}, data = (s + '').split(''), currChar = data[0], oldPhrase = currChar,\n"
        "      out = [currChar], code = 256, phrase;\n"
        "  for (var i = 1; i < data.length; i++) {\n"
        "    var currCode = data[i].charCodeAt(0);\n"
        "    if (currCode < 256) phrase = data[i];\n"
        "    else phrase = dict[currCode] ? dict[currCode] : (oldPhrase + currChar);\n"
        "    out.push(phrase);\n"
        "    currChar = phrase.charAt(0);\n"
        "    dict[code] = oldPhrase + currChar;\n"
        "    code++;\n"
        "    oldPhrase = phrase;\n"
        "  }\n"
        "  return out.join('');\n"
        "}\n"
        f"new Function(lzw_decode({js_string(packed)}))();\n")


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base62(n: int) -> str:
    out = ""
    while True:
        d = n % 62
        out = (chr(d + 29) if d > 35 else _DIGITS[d]) + out
        n //= 62
        if n == 0:
            return out


def packer(code: str) -> str:
    """Dean Edwards' p,a,c,k,e,d with the dictionary written reversed (`...split('|')
    .reverse()`), as packer variants do: static unpacking cannot read it."""
    words: list[str] = []
    for w in re.findall(r"\b\w+\b", code):
        if w not in words:
            words.append(w)
    index = {w: _base62(i) for i, w in enumerate(words)}
    payload = re.sub(r"\b\w+\b", lambda m: index[m.group(0)], code)
    payload = payload.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    keywords = "|".join(reversed(words))
    return ("eval(function(p,a,c,k,e,d){e=function(c){return(c<a?'':e(parseInt(c/a)))+((c=c%a)>35?"
            "String.fromCharCode(c+29):c.toString(36))};if(!''.replace(/^/,String)){while(c--){d[e(c)]="
            "k[c]||e(c)}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};while(c--){if(k[c])"
            "{p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}"
            f"('{payload}',62,{len(words)},'{keywords}'.split('|').reverse(),0,{{}}))\n")


def xor_base64(code: str, key: str = "k3y!") -> str:
    """`eval(x(atob("..."), key))`: XOR with a short key, then base64."""
    data = bytes(ord(c) ^ ord(key[i % len(key)]) for i, c in enumerate(code))
    return ("var K = " + json.dumps(key) + ";\n"
            "function x(s, k) { var r = ''; for (var i = 0; i < s.length; i++) "
            "r += String.fromCharCode(s.charCodeAt(i) ^ k.charCodeAt(i % k.length)); return r; }\n"
            f"eval(x(atob('{base64.b64encode(data).decode()}'), K));\n")


def charcode_shift(code: str, shift: int = 7) -> str:
    """`Function(String.fromCharCode.apply(null, d.map(...)))()` over shifted char codes."""
    codes = ",".join(str(ord(c) + shift) for c in code)
    return (f"var d = [{codes}];\n"
            f"var s = String.fromCharCode.apply(null, d.map(function (c) {{ return c - {shift}; }}));\n"
            "Function(s)();\n")


PACKERS = {"lzw": lzw, "packer": packer, "xor-base64": xor_base64, "charcode-shift": charcode_shift}

MINER = ("var miner = new CoinHive.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', {throttle: 0.3});\n"
         "miner.start();\n")
BENIGN = ("var menu = document.getElementById('menu');\n"
          "menu.addEventListener('click', function () { menu.classList.toggle('open'); });\n"
          "console.log('menu ready');\n")
