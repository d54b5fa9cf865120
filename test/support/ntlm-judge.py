#!/usr/bin/python3
"""
An independent judge of our NTLM message sealing and WinRM message encryption (test code only).

It runs the Python implementation Ansible's WinRM connection relies on, unchanged: Debian's ntlm-auth
(ntlm_auth.session_security.SessionSecurity, ntlm_auth.messages.AuthenticateMessage,
ntlm_auth.gss_channel_bindings), pywinrm (winrm.encryption.Encryption) and requests-ntlm's certificate
hash. Nothing of our TypeScript is reimplemented here; this file only feeds values in and reads values out.

One JSON request on stdin, one JSON answer on stdout; bytes travel as base64, keys as hex.

  {"op": "wrap",   "flags": N, "key": hex, "side": "client"|"server", "messages": [b64]}
      -> {"bodies": [{"contentType": str, "body": b64}]}       pywinrm's prepare_encrypted_request
  {"op": "unwrap", "flags": N, "key": hex, "side": ..., "bodies": [{"contentType", "body"}]}
      -> {"results": [{"plaintext": b64} | {"error": str}]}    pywinrm's parse_encrypted_response
  {"op": "seal",   "flags", "key", "side", "messages": [b64]} -> {"sealed": [{"sealed": b64, "signature": b64}]}
  {"op": "unseal", "flags", "key", "side", "sealed": [{"sealed", "signature"}]} -> {"results": [...]}
  {"op": "authenticate", "user", "domain", "workstation", "password", "negotiate": b64, "challenge": b64,
   "clientChallenge": hex, "exportedSessionKey": hex, "timestamp": hex, "cbtApplicationData": b64|null}
      -> {"message": b64, "exportedSessionKey": hex, "flags": N}   ntlm-auth's AuthenticateMessage + MIC
  {"op": "cbt", "certs": [b64 DER]} -> {"results": [{"hash": hex, "token": hex} | {"error": str}]}
  {"op": "gss", "applicationData": [b64]} -> {"tokens": [hex]}   MD5 of ntlm-auth's GssChannelBindingsStruct
  {"op": "rc4", "key": hex, "chunks": [b64]} -> {"chunks": [b64]}  (python-cryptography's ARC4)

With --serve it is the WS-Management test peer's sealing (test/support/wsman-peer-seal.ts): a long-running
process reading one JSON request per line on stdin and answering one JSON line on stdout, in order, until
stdin closes. Besides the stateless ops above it keeps the server end of NTLM sessions, one per connection
the peer authenticated, built from the exported session key the peer derived from the login it verified:

  {"op": "open",   "id": str, "flags": N, "key": hex}        -> {}   ntlm-auth's SessionSecurity(source="server")
  {"op": "unwrap", "id", "contentType": str, "body": b64}    -> {"plaintext": b64} | {"error": str}
                                                                 a request, by pywinrm's parse_encrypted_response
  {"op": "wrap",   "id", "message": b64}                     -> {"contentType": str, "body": b64}
                                                                 a reply, by pywinrm's prepare_encrypted_request
  {"op": "close",  "id"}                                     -> {}

The NT hash for "authenticate" is computed with the openssl CLI's MD4 (legacy provider), since OpenSSL 3
gives Python's hashlib no md4 either; ntlm-auth accepts it in its "LM:NT" hash form.

Exit 3 with a message naming the Debian package when a module is missing.
"""
import base64
import hashlib
import inspect
import json
import subprocess
import sys
import types

try:
    import ntlm_auth.compute_response as compute_response
    import ntlm_auth.messages as ntlm_messages
    from ntlm_auth.gss_channel_bindings import GssChannelBindingsStruct
    from ntlm_auth.rc4 import ARC4
    from ntlm_auth.session_security import SessionSecurity
except ImportError as e:
    sys.stderr.write("ntlm-judge: python3-ntlm-auth is missing (apt-get install python3-ntlm-auth): %s\n" % e)
    sys.exit(3)
try:
    import requests
    from winrm.encryption import Encryption
except ImportError as e:
    sys.stderr.write("ntlm-judge: python3-winrm is missing (apt-get install python3-winrm): %s\n" % e)
    sys.exit(3)
try:
    from requests_ntlm.requests_ntlm import _get_certificate_hash
except ImportError as e:
    sys.stderr.write("ntlm-judge: python3-requests-ntlm is missing (apt-get install python3-winrm): %s\n" % e)
    sys.exit(3)

ENDPOINT = "http://judge.invalid:5985/wsman"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text)


def security(req):
    return SessionSecurity(req["flags"], bytes.fromhex(req["key"]), source=req["side"])


def encryption(req):
    auth = types.SimpleNamespace(session_security=security(req))
    return Encryption(types.SimpleNamespace(auth=auth), "ntlm")


def op_wrap(req):
    enc = encryption(req)
    http = requests.Session()
    bodies = []
    for m in req["messages"]:
        prepared = enc.prepare_encrypted_request(http, ENDPOINT, unb64(m))
        bodies.append({"contentType": prepared.headers["Content-Type"], "body": b64(prepared.body)})
    return {"bodies": bodies}


def op_unwrap(req):
    enc = encryption(req)
    takes_host = len(inspect.signature(enc.parse_encrypted_response).parameters) > 1
    results = []
    for item in req["bodies"]:
        response = types.SimpleNamespace(
            headers={"Content-Type": item["contentType"]},
            content=unb64(item["body"]),
            request=types.SimpleNamespace(url=ENDPOINT),
        )
        try:
            msg = enc.parse_encrypted_response(response, "judge.invalid") if takes_host else enc.parse_encrypted_response(response)
            results.append({"plaintext": b64(msg)})
        except Exception as e:  # the judge reports, the test decides
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    return {"results": results}


def op_seal(req):
    sec = security(req)
    out = []
    for m in req["messages"]:
        sealed, signature = sec.wrap(unb64(m))
        out.append({"sealed": b64(sealed), "signature": b64(signature)})
    return {"sealed": out}


def op_unseal(req):
    sec = security(req)
    results = []
    for item in req["sealed"]:
        try:
            results.append({"plaintext": b64(sec.unwrap(unb64(item["sealed"]), unb64(item["signature"])))})
        except Exception as e:
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    return {"results": results}


def nt_hash(password):
    try:
        run = subprocess.run(
            ["openssl", "dgst", "-md4", "-binary", "-provider", "legacy", "-provider", "default"],
            input=password.encode("utf-16-le"), capture_output=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("ntlm-judge: openssl with its legacy provider (MD4) is needed (apt-get install openssl): %s\n" % e)
        sys.exit(3)
    return run.stdout


def op_authenticate(req):
    client_challenge = bytes.fromhex(req["clientChallenge"])
    session_key = bytes.fromhex(req["exportedSessionKey"])
    timestamp = bytes.fromhex(req["timestamp"])
    # The values ntlm-auth would draw at random or from the clock, fixed so the messages can be compared.
    compute_response.os = types.SimpleNamespace(urandom=lambda n: client_challenge[:n])
    compute_response.get_windows_timestamp = lambda: timestamp
    ntlm_messages.get_random_export_session_key = lambda: session_key

    challenge = ntlm_messages.ChallengeMessage(unb64(req["challenge"]))
    cbt = None
    if req.get("cbtApplicationData") is not None:
        cbt = GssChannelBindingsStruct()
        cbt[cbt.APPLICATION_DATA] = unb64(req["cbtApplicationData"])
    password = "0" * 32 + ":" + nt_hash(req["password"]).hex()
    msg = ntlm_messages.AuthenticateMessage(
        req["user"], password, req["domain"], req["workstation"], challenge, 3, cbt_data=cbt
    )
    negotiate = types.SimpleNamespace(get_data=lambda: unb64(req["negotiate"]))
    msg.add_mic(negotiate, challenge)
    flags = int.from_bytes(msg.negotiate_flags, "little")
    return {"message": b64(msg.get_data()), "exportedSessionKey": msg.exported_session_key.hex(), "flags": flags}


def op_cbt(req):
    results = []
    for der_b64 in req["certs"]:
        der = unb64(der_b64)
        try:
            digest = _get_certificate_hash(der)
            if digest is None:
                raise ValueError("requests-ntlm found no hash for this certificate")
            cbt = GssChannelBindingsStruct()
            cbt[cbt.APPLICATION_DATA] = b"tls-server-end-point:" + bytes.fromhex(digest)
            results.append({"hash": digest.lower(), "token": hashlib.md5(cbt.get_data()).hexdigest()})
        except Exception as e:
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    return {"results": results}


def op_gss(req):
    tokens = []
    for data in req["applicationData"]:
        cbt = GssChannelBindingsStruct()
        cbt[cbt.APPLICATION_DATA] = unb64(data)
        tokens.append(hashlib.md5(cbt.get_data()).hexdigest())
    return {"tokens": tokens}


def op_rc4(req):
    handle = ARC4(bytes.fromhex(req["key"]))
    return {"chunks": [b64(handle.update(unb64(c))) for c in req["chunks"]]}


SESSIONS = {}


def op_open(req):
    SESSIONS[req["id"]] = encryption(dict(req, side="server"))
    return {}


def op_session_unwrap(req):
    enc = SESSIONS.get(req["id"])
    if enc is None:
        return {"error": "no NTLM session %s" % req["id"]}
    response = types.SimpleNamespace(
        headers={"Content-Type": req["contentType"]},
        content=unb64(req["body"]),
        request=types.SimpleNamespace(url=ENDPOINT),
    )
    try:
        msg = enc.parse_encrypted_response(response)
    except Exception as e:  # the peer reports, the test decides
        return {"error": "%s: %s" % (type(e).__name__, e)}
    if isinstance(msg, str):  # pywinrm hands back a body it did not recognise as encrypted as text
        return {"error": "pywinrm did not read the body as encrypted (Content-Type: %s)" % req["contentType"]}
    return {"plaintext": b64(msg)}


def op_session_wrap(req):
    enc = SESSIONS[req["id"]]
    prepared = enc.prepare_encrypted_request(requests.Session(), ENDPOINT, unb64(req["message"]))
    return {"contentType": prepared.headers["Content-Type"], "body": b64(prepared.body)}


def op_close(req):
    SESSIONS.pop(req["id"], None)
    return {}


SERVE_OPS = {
    "open": op_open,
    "unwrap": op_session_unwrap,
    "wrap": op_session_wrap,
    "close": op_close,
}

OPS = {
    "wrap": op_wrap,
    "unwrap": op_unwrap,
    "seal": op_seal,
    "unseal": op_unseal,
    "authenticate": op_authenticate,
    "cbt": op_cbt,
    "gss": op_gss,
    "rc4": op_rc4,
}


def serve():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            answer = (SERVE_OPS.get(req["op"]) or OPS[req["op"]])(req)
        except Exception as e:  # one broken request must not end the peer's other sessions
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main():
    import warnings
    warnings.simplefilter("ignore")  # python-cryptography's ARC4 deprecation notice is not the judge's business
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    req = json.load(sys.stdin)
    json.dump(OPS[req["op"]](req), sys.stdout)


if __name__ == "__main__":
    main()
