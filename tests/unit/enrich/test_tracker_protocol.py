"""Tracker protocol -> the 131-field TSV, with expected values written from snowplow-formats.md."""

import json

import pytest

from tests.unit.enrich import support
from tests.unit.enrich.support import CONTEXTS_1_0_0, CONTEXTS_1_0_1, NUID, UNSTRUCT

WORKED = dict(e="pv", url="https://www.example.com/a?b=c#d", page="Home", eid="2ec13853-ef9e-414a-8976-e64a4693b134",
              tv="js-4.6.8", tna="sp", aid="site", p="web", cookie="1", cs="UTF-8", lang="en-GB", res="1920x1080",
              cd="24", tz="Europe/London", dtm="1665398554084", stm="1665398554094", vp="693x1302", ds="678x8188",
              vid="29", sid="be9520e7-16a5-4d4e-afa1-8e269f99a1cf", duid="85094061-f702-4b62-a46d-20f7226b4741")
WORKED_HEADERS = ["User-Agent: UA", "X-Forwarded-For: 203.0.113.7", f"Cookie: sp={NUID}",
                  "Content-Type: application/json; charset=UTF-8"]


def one_event(pipe, record):
    outcome = support.run(pipe, record)
    assert outcome.bad == [], [r["data"]["failure"] for r in support.bad_rows(outcome)]
    (event,) = support.events(outcome)
    support.sdk_transform(event.to_tsv())
    return event


def test_worked_example_3_1a(pipe):
    """Every non-empty field of §3.1a, and nothing else (identity strings substituted, DESIGN §6)."""
    event = one_event(pipe, support.payload(body=support.post_body(WORKED), headers=WORKED_HEADERS))
    expected = {
        "app_id": "site", "platform": "web", "collector_tstamp": "2022-10-10 10:42:35.000",
        "dvce_created_tstamp": "2022-10-10 10:42:34.084", "event": "page_view",
        "event_id": "2ec13853-ef9e-414a-8976-e64a4693b134", "name_tracker": "sp", "v_tracker": "js-4.6.8",
        "v_collector": "mini-collector-0.1.0-nsq", "v_etl": "mini-enrich-0.1.0", "user_ipaddress": "203.0.113.7",
        "domain_userid": "85094061-f702-4b62-a46d-20f7226b4741", "domain_sessionidx": "29", "network_userid": NUID,
        "page_url": "https://www.example.com/a?b=c#d", "page_title": "Home", "page_urlscheme": "https",
        "page_urlhost": "www.example.com", "page_urlport": "443", "page_urlpath": "/a", "page_urlquery": "b=c",
        "page_urlfragment": "d", "useragent": "UA", "br_lang": "en-GB", "br_cookies": "1", "br_colordepth": "24",
        "br_viewwidth": "693", "br_viewheight": "1302", "os_timezone": "Europe/London", "dvce_screenwidth": "1920",
        "dvce_screenheight": "1080", "doc_charset": "UTF-8", "doc_width": "678", "doc_height": "8188",
        "dvce_sent_tstamp": "2022-10-10 10:42:34.094", "domain_sessionid": "be9520e7-16a5-4d4e-afa1-8e269f99a1cf",
        "derived_tstamp": "2022-10-10 10:42:34.990", "event_vendor": "com.snowplowanalytics.snowplow",
        "event_name": "page_view", "event_format": "jsonschema", "event_version": "1-0-0",
    }
    got = support.non_empty(event)
    etl = got.pop("etl_tstamp")
    assert len(etl) == 23 and etl[10] == " "
    assert got == expected


def test_get_page_view_with_base64_entities(pipe):
    web_page = {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                "data": {"id": "0b3b2c49-1c8e-4f54-9b58-5e2c55c0d3a1"}}
    cx = support.b64({"schema": CONTEXTS_1_0_0, "data": [web_page]})
    qs = f"stm=1665398554094&e=pv&url=https%3A%2F%2Fshop.example.org%3A8443%2Fp%2Fq%3Fx%3D1&page=Shop+%C3%A9&tv=js-3.1.0&p=web&cx={cx}"
    event = one_event(pipe, support.payload(querystring=qs))
    assert event.event == "page_view" and event.v_tracker == "js-3.1.0"
    assert event.page_url == "https://shop.example.org:8443/p/q?x=1"
    assert (event.page_urlhost, event.page_urlport, event.page_urlpath, event.page_urlquery) == \
        ("shop.example.org", "8443", "/p/q", "x=1")
    assert event.page_title == "Shop é"
    assert json.loads(event.contexts) == {"schema": CONTEXTS_1_0_1, "data": [web_page]}
    assert event.contexts == '{"schema":"%s","data":[%s]}' % (CONTEXTS_1_0_1, json.dumps(web_page, separators=(",", ":")))
    assert event.derived_tstamp == event.collector_tstamp == "2022-10-10 10:42:35.000"
    assert event.user_ipaddress == "10.0.0.1" and event.useragent == "UA" and event.network_userid == NUID


def test_page_ping(pipe):
    event = one_event(pipe, support.payload(querystring="e=pp&pp_mix=0&pp_max=10&pp_miy=-5&pp_may=2000&p=web&tv=js-4"))
    assert (event.event, event.pp_xoffset_min, event.pp_xoffset_max, event.pp_yoffset_min, event.pp_yoffset_max) == \
        ("page_ping", "0", "10", "-5", "2000")
    assert (event.event_vendor, event.event_name) == ("com.snowplowanalytics.snowplow", "page_ping")


def test_struct_event_and_legacy_ev(pipe):
    body = support.post_body(dict(e="se", se_ca="shop", se_ac="add", se_la="sku-1", se_pr="red", se_va="1e3",
                                  tv="py-1.1.0", p="pc", ttm="1665398550000"))
    event = one_event(pipe, support.payload(body=body))
    assert (event.event, event.se_category, event.se_action, event.se_label, event.se_property, event.se_value) == \
        ("struct", "shop", "add", "sku-1", "red", "1000")
    assert (event.event_vendor, event.event_name, event.event_format, event.event_version) == \
        ("com.google.analytics", "event", "jsonschema", "1-0-0")
    assert event.true_tstamp == event.derived_tstamp == "2022-10-10 10:42:30.000"
    legacy = one_event(pipe, support.payload(querystring="e=ev&ev_ca=c&ev_ac=a&ev_va=2.50&p=web&tv=t"))
    assert (legacy.event, legacy.se_category, legacy.se_action, legacy.se_value) == ("struct", "c", "a", "2.50")


def test_transaction_and_item(pipe):
    tr = one_event(pipe, support.payload(querystring=(
        "e=tr&tr_id=order-1&tr_af=web&tr_tt=49.95&tr_tx=4.50&tr_sh=-0&tr_ci=Paris&tr_st=IDF&tr_co=FR&tr_cu=EUR"
        "&tid=123456&p=web&tv=js")))
    assert (tr.event, tr.tr_orderid, tr.tr_affiliation, tr.tr_total, tr.tr_tax, tr.tr_shipping, tr.tr_city,
            tr.tr_state, tr.tr_country, tr.tr_currency, tr.txn_id) == \
        ("transaction", "order-1", "web", "49.95", "4.50", "0", "Paris", "IDF", "FR", "EUR", "123456")
    assert tr.event_name == "transaction"
    ti = one_event(pipe, support.payload(querystring=(
        "e=ti&ti_id=order-1&ti_sk=sku&ti_na=Shirt&ti_ca=tops&ti_pr=19.99&ti_qu=2&ti_cu=EUR&p=web&tv=js")))
    assert (ti.event, ti.ti_orderid, ti.ti_sku, ti.ti_name, ti.ti_category, ti.ti_price, ti.ti_quantity,
            ti.ti_currency, ti.event_name) == \
        ("transaction_item", "order-1", "sku", "Shirt", "tops", "19.99", "2", "EUR", "transaction_item")


def test_self_describing_event_post_and_get(pipe):
    link = {"schema": "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
            "data": {"targetUrl": "https://example.com/ü", "elementId": "x"}}
    ue = {"schema": UNSTRUCT, "data": link}
    for record in (support.payload(body=support.post_body(dict(e="ue", ue_pr=json.dumps(ue), p="web", tv="js"))),
                   support.payload(querystring=f"e=ue&p=web&tv=js&ue_px={support.b64(ue)}")):
        event = one_event(pipe, record)
        assert event.event == "unstruct"
        assert (event.event_vendor, event.event_name, event.event_format, event.event_version) == \
            ("com.snowplowanalytics.snowplow", "link_click", "jsonschema", "1-0-1")
        assert event.unstruct_event == (
            '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":'
            '{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":'
            '{"targetUrl":"https://example.com/ü","elementId":"x"}}}')
        sdk = support.sdk_transform(event.to_tsv())
        assert sdk["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"]["targetUrl"] == "https://example.com/ü"


def test_three_contexts_and_superseding(pipe):
    entities = [
        {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0", "data": {"id": "0b3b2c49-1c8e-4f54-9b58-5e2c55c0d3a1"}},
        {"schema": "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1",
         "data": {"userId": "85094061-f702-4b62-a46d-20f7226b4741", "sessionId": "be9520e7-16a5-4d4e-afa1-8e269f99a1cf",
                  "sessionIndex": 3, "previousSessionId": None, "storageMechanism": "COOKIE_1"}},
        {"schema": "iglu:com.acme/old/jsonschema/1-0-0", "data": {"k": 1}},
    ]
    co = json.dumps({"schema": CONTEXTS_1_0_0, "data": entities})
    event = one_event(pipe, support.payload(body=support.post_body(dict(e="pv", co=co, p="web", tv="js"))))
    stored = json.loads(event.contexts)["data"]
    assert [e["schema"] for e in stored] == [entities[0]["schema"], entities[1]["schema"],
                                             "iglu:com.acme/old/jsonschema/1-0-1"]
    assert json.loads(event.derived_contexts) == {"schema": CONTEXTS_1_0_1, "data": [
        {"schema": "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0",
         "data": {"originalSchema": "iglu:com.acme/old/jsonschema/1-0-0", "validatedWith": "1-0-1"}}]}


def test_querystring_overrides_body_and_tnuid_wins(pipe):
    body = support.post_body(dict(e="pv", aid="from-body", p="web", tv="js", nuid="n1"),
                             dict(e="pv", aid="from-body", p="web", tv="js", tnuid="t2", nuid="n2"))
    outcome = support.run(pipe, support.payload(body=body, querystring="aid=from-qs"))
    first, second = support.events(outcome)
    assert first.app_id == second.app_id == "from-qs"
    assert (first.network_userid, second.network_userid) == ("n1", "t2")


def test_ip_and_useragent_sources(pipe):
    record = support.payload(querystring="e=pv&p=web&tv=js", headers=["Forwarded: for=198.51.100.4;proto=https"],
                             useragent="Header\tUA\r\n")
    event = one_event(pipe, record)
    assert event.user_ipaddress == "198.51.100.4" and event.useragent == "Header    UA"
    event = one_event(pipe, support.payload(querystring="e=pv&p=web&tv=js&ip=192.0.2.1,10.0.0.2&ua=Param%09UA"))
    assert event.user_ipaddress == "192.0.2.1" and event.useragent == "Param    UA"


def test_event_id_generated_and_lowercased(pipe):
    a = one_event(pipe, support.payload(querystring="e=pv&p=web&tv=js"))
    b = one_event(pipe, support.payload(querystring="e=pv&p=web&tv=js"))
    assert a.event_id != b.event_id and len(a.event_id) == 36 and a.event_id[14] == "4"
    c = one_event(pipe, support.payload(querystring="e=pv&p=web&tv=js&eid=2EC13853-EF9E-414A-8976-E64A4693B134"))
    assert c.event_id == "2ec13853-ef9e-414a-8976-e64a4693b134"


def test_referrer_page_url_fallback_and_cross_domain(pipe):
    event = one_event(pipe, support.payload(
        querystring="e=pv&p=web&tv=js&refr=http%3A%2F%2Fsearch.example%2Fq%3Fs%3Dx%23top",
        referer_uri="https://site.example/landing?_sp=85094061-f702-4b62-a46d-20f7226b4741.1665398554084"))
    assert event.page_url == "https://site.example/landing?_sp=85094061-f702-4b62-a46d-20f7226b4741.1665398554084"
    assert event.refr_domain_userid == "85094061-f702-4b62-a46d-20f7226b4741"
    assert event.refr_dvce_tstamp == "2022-10-10 10:42:34.084"
    assert (event.refr_urlscheme, event.refr_urlhost, event.refr_urlport, event.refr_urlpath, event.refr_urlquery,
            event.refr_urlfragment) == ("http", "search.example", "80", "/q", "s=x", "top")


def test_control_characters_made_tsv_safe(pipe):
    event = one_event(pipe, support.payload(querystring="e=pv&p=web&tv=js&page=a%09b%0Ac%00d&aid=%0A"))
    assert event.page_title == "a    bcd" and event.app_id is None


@pytest.mark.parametrize("platform", ["web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv", "headset"])
def test_every_platform(pipe, platform):
    assert one_event(pipe, support.payload(querystring=f"e=pv&tv=js&p={platform}")).platform == platform


def test_redirect_adapter(pipe):
    event = one_event(pipe, support.payload(path="/r/tp2", querystring="u=https%3A%2F%2Fexample.com%2Fdest&aid=a"))
    assert (event.event, event.v_tracker, event.platform, event.app_id) == ("unstruct", "r-tp2", "web", "a")
    assert json.loads(event.unstruct_event)["data"] == {
        "schema": "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0",
        "data": {"uri": "https://example.com/dest"}}
    event = one_event(pipe, support.payload(path="/r/tp2", querystring="u=https%3A%2F%2Fexample.com%2F&e=pv&p=mob"))
    assert event.event == "page_view" and event.platform == "mob"
    assert json.loads(event.contexts)["data"][0]["data"] == {"uri": "https://example.com/"}


def test_iglu_webhook_adapter(pipe):
    qs = "schema=iglu%3Acom.snowplowanalytics.snowplow%2Fsocial_interaction%2Fjsonschema%2F1-0-0&action=like&network=fb&aid=app1"
    event = one_event(pipe, support.payload(path="/com.snowplowanalytics.iglu/v1", querystring=qs))
    assert (event.event, event.v_tracker, event.platform, event.app_id) == \
        ("unstruct", "com.snowplowanalytics.iglu-v1", "app", "app1")
    assert json.loads(event.unstruct_event)["data"] == {
        "schema": "iglu:com.snowplowanalytics.snowplow/social_interaction/jsonschema/1-0-0",
        "data": {"action": "like", "network": "fb"}}
    body = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/social_interaction/jsonschema/1-0-0",
                       "data": {"action": "share", "network": "x"}})
    event = one_event(pipe, support.payload(path="/com.snowplowanalytics.iglu/v1", body=body,
                                            content_type="application/json"))
    assert json.loads(event.unstruct_event)["data"]["data"] == {"action": "share", "network": "x"}


def test_iglu_webhook_form_body_and_redirect_into_cx(pipe):
    qs = "schema=iglu%3Acom.snowplowanalytics.snowplow%2Fsocial_interaction%2Fjsonschema%2F1-0-0"
    event = one_event(pipe, support.payload(path="/com.snowplowanalytics.iglu/v1", querystring=qs,
                                            body="action=retweet&network=twitter",
                                            content_type="application/x-www-form-urlencoded"))
    assert event.platform == "srv"
    assert json.loads(event.unstruct_event)["data"]["data"] == {"action": "retweet", "network": "twitter"}
    web_page = {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                "data": {"id": "0b3b2c49-1c8e-4f54-9b58-5e2c55c0d3a1"}}
    cx = support.b64({"schema": CONTEXTS_1_0_0, "data": [web_page]})
    event = one_event(pipe, support.payload(path="/r/tp2", querystring=f"e=se&se_ca=c&se_ac=a&u=https%3A%2F%2Fx.example%2F&cx={cx}"))
    entities = json.loads(event.contexts)["data"]
    assert [e["schema"].split("/")[1] for e in entities] == ["uri_redirect", "web_page"]
    assert event.event == "struct" and event.v_tracker == "r-tp2"
