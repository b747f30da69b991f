#!/usr/bin/env python3
"""Writes the seed inputs of tests/http/corpus/<target>/seed-*.

Run it from anywhere; it only (re)writes seed-* files, never the crash-*
regression inputs or the files a fuzzer added. Seeds are small, readable
inputs that cover the grammar: valid messages, every error class, limits.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

REQ = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/models HTTP/1.0\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: switchyard:8080\r\nContent-Type: application/json\r\n"
    b"Content-Length: 43\r\nAuthorization: Bearer sk-abc\r\nConnection: keep-alive\r\n\r\n"
    b'{"model":"auto","messages":[],"stream":true}',
    b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT upstream:443 HTTP/1.1\r\nHost: upstream:443\r\n\r\n",
    b"GET http://example.com/x?y=1#z HTTP/1.1\r\n\r\n",
    b"M-SEARCH * HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
    b"GET / HTTP/1.1\r\nX-Pad:  \t value \t \r\nX-Empty:\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"v" * 100 + b"\tw\r\n\r\n",
    b"GET /" + b"p" * 200 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: %d\r\n" % (i, i) for i in range(40)) + b"\r\n",
    b"GET / HTTP/1.1\r\nX-Long: " + b"x" * 5000 + b"\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.2\r\n\r\n",
    b"GET / HTTP/x\r\n\r\n",
    b"GET / http/1.1\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET /a\x01 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\r\n: a\r\n\r\n",
    b"GE(T / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close, Upgrade\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n",
    b"GET / HTTP/1.1\r",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
]

RES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    b"HTTP/1.0 404 Not Found\r\n\r\n",
    b"HTTP/1.1 204\r\n\r\n",
    b"HTTP/1.1 204 \r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 503 Service  Unavailable\tnow\r\nRetry-After: 1\r\n\r\n",
    b"HTTP/1.1 999 Whatever\n\n",
    b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\nServer: uvicorn\nDate: Tue, 01 Oct 2024 12:00:00 GMT\n\n",
    b"HTTP/1.1 429 Too Many Requests\r\nx-ratelimit-remaining-requests: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: %d\r\n" % (i, i) for i in range(40)) + b"\r\n",
    b"HTTP/1.1 200 " + b"r" * 300 + b"\r\n\r\n",
    b"HTTP/2.0 200 OK\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 099 OK\r\n\r\n",
    b"HTTP/1.1200 OK\r\n\r\n",
    b"HTTP/1.1 200 O\x01K\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n",
    b"HTTP/1.1 200 OK\rX\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\xff\r\n\r\n",
    b"HTTP/1.1 200",
    b"HTTP/1.",
]

CHUNKED = [
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n",
    b"000005\r\nhello\r\n000\r\n\r\n",
    b"5;name=value\r\nhello\r\n0;last\r\n\r\n",
    b'5 ; a=1 ; b="x y"\r\nhello\r\n0\r\n\r\n',
    b"5\t;a\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nY:\r\n\r\n",
    b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
    b"1a\r\ndata: {\"x\":1}\r\n\r\ndata:\r\n\r\n\r\n0\r\n\r\n",
    b"ffffffffffffffff\r\nxyz",
    b"10000000000000000\r\n",
    b"\r\n",
    b"g\r\n",
    b"-1\r\n",
    b"0x5\r\nhello\r\n",
    b"5\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\n0\r\n\r\n",
    b"5\r\nhelloX\r\n",
    b"5 5\r\n",
    b"5;a\nb\r\n",
    b"0\r\n\n",
    b"0\r\n X: y\r\n\r\n",
    b"0\r\nX: a\x01\r\n\r\n",
    b"1;" + b"a" * 1100 + b"\r\nx\r\n0\r\n\r\n",
    b"0" * 1100 + b"1\r\nx\r\n0\r\n\r\n",
    b"0\r\n" + b"X-T: 0123456789012345678901234567890123456789\r\n" * 200 + b"\r\n",
    b"5\r\nhel",
    b"5\r\nhello\r\n0\r\n",
    b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in
             [b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n', b"data: [DONE]\n\n"]) + b"0\r\n\r\n",
]

JSON = [
    b"{}",
    b" \t\r\n{ \t\r\n} \t\r\n",
    b'{"model":"auto","messages":[{"role":"user","content":"hi"}],"stream":true}',
    b'{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},'
    b'{"role":"user","content":[{"type":"text","text":"What is in this image?"},'
    b'{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],'
    b'"temperature":0.7,"top_p":1,"n":1,"max_tokens":-12e+3,"stop":null,"logprobs":false,'
    b'"tools":[],"user":"u-1"}',
    b'{"model":"a","model":"b","mod\\u0065l":"c"}',
    b'{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\ud83d\\ude00"}',
    b'{"s":"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac"}',
    b'{"n":[0,-0,0.5,-0.0e-0,1e10,1E+2,1e-2,-1.5e+300,123456789012345678901234567890]}',
    b'{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":1}}}}}}}}}}}}}}}',
    b'{"a":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}',
    b'{' + b",".join(b'"k%d":%d' % (i, i) for i in range(16)) + b"}",
    b'{' + b",".join(b'"k%d":%d' % (i, i) for i in range(17)) + b"}",
    b'{"":"","\\u0000":0}',
    b'[1,2,3]',
    b'"just a string"',
    b"123",
    b"true",
    b"null",
    b'{"a":1,}',
    b'[1,]',
    b"{'a':1}",
    b'{"a":01}',
    b'{"a":1.}',
    b'{"a":.1}',
    b'{"a":+1}',
    b'{"a":NaN}',
    b'{"a":tru}',
    b'{"a":"\\x"}',
    b'{"a":"\\ud800"}',
    b'{"a":"\\udc00"}',
    b'{"a":"\\ud800\\u0041"}',
    b'{"a":"a\x01b"}',
    b'{"a":"\xff"}',
    b'{"a":"\xc0\x80"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\xf4\x90\x80\x80"}',
    b'{"a":"abc',
    b'{"a":1} {}',
    b"\xef\xbb\xbf{}",
    b'{"a":[1,2',
    b"[" * 100,
    b'{"a":"' + b"0123456789abcdef" * 64 + b'"}',
    b'{"a":"' + b"\xe6\x97\xa5" * 300 + b'"}',
]


def write(target, items):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.unlink(os.path.join(d, name))
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(data)


write("request", REQ)
write("response", RES)
write("chunked", CHUNKED)
write("json", JSON)
