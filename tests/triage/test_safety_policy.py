"""The safety rules of DESIGN.md, each as a behaviour of Triage.decide."""

from __future__ import annotations

import pytest

from ivr.triage import Triage

EMERGENCY = {"110", "119", "120"}


@pytest.mark.parametrize(
    "text",
    [
        "我家小孩在河边玩，掉到水里去了",
        "有个人从五楼阳台上掉下来了",
        "我儿子说他不想活了，要去跳江",
        "我妈老年痴呆，早上出门到现在还没回来",
        "我七岁的女儿在超市里走丢了",
        "楼道里一股煤气味，好重",
        "路边一根电线掉在地上，还在冒火花",
        "路上的井盖没了，有个骑车的掉进下水道里了",
    ],
)
def test_must_accept_situations_never_leave_emergency(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert result.route in EMERGENCY
    assert result.rule == "must-accept"


@pytest.mark.parametrize(
    "text",
    [
        "隔壁装修太吵了，我去说了两句，他拿着一把刀冲出来",
        "楼上噪音吵得睡不着，我上去讲，他们把我老公打了",
        "我车被堵了，找到车主，他说要弄死我",
        "房东不退押金，还叫了几个人来我家门口",
        "工资不发，老板还拿棍子打人",
    ],
)
def test_danger_cue_overrides_any_service_cue(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert result.route == "110"
    assert result.rule == "danger-override"


def test_violence_wins_over_medical_when_both_are_said(triage: Triage) -> None:
    result = triage.decide("他拿菜刀砍了我男人，头上一直在流血")
    assert result.route == "110"


@pytest.mark.parametrize(
    "text",
    [
        "两台车在路口刮了一下，人都没事",
        "没人受伤哈，就是刚才倒车碰到了后面那台车",
        "我的车停在路边被人撞凹了，撞的人跑了",
        "我车被堵了，后来那台车又倒车蹭到我车了",
    ],
)
def test_any_collision_is_a_police_matter_even_without_injury(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert result.route == "110"
    assert result.category == "traffic_accident"


@pytest.mark.parametrize(
    "text",
    [
        "有台车堵在我家车库门口，车上没留电话，找不到车主",
        "一台白色面包车把我店门口挡死了，打车主电话打不通",
        "我车被堵了，人家没刮也没碰，就是停得太近我开不出来，他电话也不接",
    ],
)
def test_blocked_car_with_owner_unreachable_is_move_car(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert (result.route, result.category) == ("12345", "move_car")


def test_denied_fight_leaves_a_quarrel_for_mediation(triage: Triage) -> None:
    result = triage.decide("没打架，就是吵架")
    assert result.route == "mediation"
    assert any(e.rule == "negated:violence" for e in result.evidence)


def test_no_injury_removes_injury_but_not_the_accident(triage: Triage) -> None:
    result = triage.decide("没人受伤，就是两台车追尾了")
    assert result.route == "110"
    rules = {e.rule for e in result.evidence}
    assert "negated:injury" in rules
    assert "traffic_collision" in rules


@pytest.mark.parametrize(
    "text",
    [
        "那个井盖不见了，黑洞洞的，还好没人掉下去，快派人来盖一下",
        "桥的栏杆断了一截，暂时还没人掉下去，快派人来修",
        "井 盖 不见 了 还好 没 人 掉 下去 麻烦 派 人 来 盖 一下",
    ],
)
def test_near_miss_is_not_a_fall(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert (result.route, result.category) == ("12345", "municipal")


def test_question_form_is_not_a_negation(triage: Triage) -> None:
    result = triage.decide("楼下冒好浓的烟，不晓得是不是着火了")
    assert result.route == "119"


def test_gas_billing_question_is_utilities_but_gas_smell_is_119(triage: Triage) -> None:
    assert triage.decide("这个月燃气费怎么这么贵，是不是表坏了").route == "12345"
    assert triage.decide("这个月燃气费好贵，而且厨房里一股燃气味").route == "119"


def test_chronic_factory_smoke_is_environment_but_sudden_smoke_is_119(triage: Triage) -> None:
    assert triage.decide("那个砖厂天天冒黑烟，衣服都晒不了").category == "environment"
    assert triage.decide("对面仓库突然冒出好多黑烟").route == "119"


def test_stuck_lift_with_someone_inside_is_119_empty_lift_is_property(triage: Triage) -> None:
    assert triage.decide("电梯停在两层中间，我老婆被关在里面").route == "119"
    assert triage.decide("电梯坏了三天了，里面没人，物业就是不来修").category == "property"


@pytest.mark.parametrize(
    ("text", "route", "category"),
    [
        ("隔壁KTV半夜还在唱歌，吵得睡不着", "12345", "noise"),
        ("我们村的路灯坏了一个星期了", "12345", "municipal"),
        ("从昨天下午开始停水，也没通知", "12345", "utilities"),
        ("网上买的衣服质量太差，商家不给退货", "12345", "consumer"),
        ("老板拖欠了我们三个月工资", "12345", "labour"),
        ("想问下社保断缴了怎么补缴", "12345", "policy"),
        ("河里有人排污水，臭得不得了", "12345", "environment"),
        ("物业费涨了，物业又不公示账目", "12345", "property"),
        ("路口的红绿灯坏了，一直闪黄灯", "12345", "traffic_admin"),
        ("楼上卫生间漏水到我家，邻居说不是他家的问题", "mediation", "neighbour"),
        ("我跟我哥为了分家的事吵了半年", "mediation", "family"),
        ("退租了房东不退押金", "mediation", "tenancy"),
        ("我借给朋友五万块，借条也有，他一直不还", "mediation", "other_dispute"),
    ],
)
def test_service_categories(triage: Triage, text: str, route: str, category: str) -> None:
    result = triage.decide(text)
    assert (result.route, result.category) == (route, category)
    assert result.confidence >= triage.rules.thresholds.min_confidence


def test_asks_for_a_person_stays_on_110(triage: Triage) -> None:
    result = triage.decide("我不说了，给我转人工")
    assert result.route == "110"
    assert result.rule == "asks-for-person"


def test_only_asking_for_police_without_details_is_unclear_110(triage: Triage) -> None:
    result = triage.decide("我要报警。")
    assert (result.route, result.category) == ("110", "unclear")


def test_low_confidence_stays_on_110_with_the_best_guess_noted(triage: Triage) -> None:
    result = triage.decide("房东那个事情我想说一下")
    assert result.route == "110"
    assert result.rule == "low-confidence"
    assert any("best guess" in note for note in result.notes)


def test_weak_danger_word_lowers_service_confidence(triage: Triage) -> None:
    calm = triage.decide("小区门口的路灯坏了")
    worried = triage.decide("小区门口的路灯坏了，快来人")
    assert worried.confidence < calm.confidence


def test_every_decision_is_explained_with_positions_in_the_given_text(triage: Triage) -> None:
    text = "喂，隔壁那个人拿着刀在楼道里晃"
    result = triage.decide(text)
    assert result.evidence
    for evidence in result.evidence:
        assert text[evidence.start : evidence.end].replace(" ", "") == evidence.words
    assert "weapon" in result.explain()


@pytest.mark.parametrize(
    "text",
    [
        "别打了！别打了！",
        "有个未成年人被打了",
        "他不停地抽搐，叫他也不应",
        "药吃了没用，嘴唇都发紫了",
        "我 不是 开玩笑 有人 拿 刀 在 楼下",
    ],
)
def test_words_that_only_look_like_negation_do_not_hide_danger(triage: Triage, text: str) -> None:
    assert triage.decide(text).route in EMERGENCY


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("我在菜场被人一拳打在脸上，牙齿都松了", "110"),
        ("几个人把我爸按在地上，还在扯", "110"),
        ("我爸接了个电话说医保卡出问题，要他把存折里的钱转出来", "110"),
        ("我室友把自己关在房间里，说活着没意思，叫她也不开门", "110"),
        ("电梯突然停了，我跟我女儿被关在里面", "119"),
    ],
)
def test_emergencies_told_with_service_words_stay_emergencies(
    triage: Triage, text: str, route: str
) -> None:
    assert triage.decide(text).route == route
