"""The crisis screener's rules that the labelled sets measure only in aggregate: negation, idioms, typos,
and how the phrase lists and the embedding net decide together (figures: bench/crisis_eval.py)."""
from __future__ import annotations

import numpy as np
import pytest

from helpline import embeddings
from helpline.content import dev3_taught, load_content, twins
from helpline.crisis import (
    HIGH_CATEGORIES,
    NONE,
    Lens,
    PhraseResult,
    Scores,
    Screening,
    Thresholds,
    decide,
    semantic_text,
    shared_screener,
    train_heads,
)
from helpline.normalise import normalise

CONTENT = load_content()
SCREENER = shared_screener(CONTENT)


@pytest.mark.parametrize("text", [
    "I am not suicidal, I just need a lawyer for my appeal",
    "je suis pas suicidaire hein, j'ai juste besoin d'un avocat",
    "intihar düşüncem yok, sadece avukata ihtiyacım var",          # negation after the phrase
    "kendimi öldürmeyeceğim, sadece soruyorum",                     # negation inside the phrase's last word
    "ez naxwazim xwe bikujim, tenê parêzerek ji min re lazim e",    # one letter from "ez dixwazim xwe bikujim"
    "man ghasde khodkoshi nadaram, faghat vakil mikham",
])
def test_a_denied_phrase_does_not_count_on_its_own(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level is None and result.negated.level is not None
    assert len(result.remainder.split()) < len(normalise(text).split())  # the denial is cut from what the net reads
    assert SCREENER.screen(text).level != "high"  # the net may still want a human to look; it cannot page


@pytest.mark.parametrize("text", [
    "No. I want to kill myself",             # the negator is in another sentence
    "im not ok i want to die",               # a new subject ends its reach
    "no aguanto mas me voy a matar",         # "no" belongs to another phrase ("no aguanto más")
    "I'm not suicidal but tonight I will kill myself",
    "Nefes alamıyorum, göğsüm çok ağrıyor",  # the phrase itself is negative ("I cannot breathe")
])
def test_a_negator_out_of_reach_does_not_hide_a_crisis(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level == "high"
    assert SCREENER.screen(text).level == "high"


@pytest.mark.parametrize("text", [
    "dying to know when my interview is lol",
    "my phone died yesterday so i missed your message",
    "this heat is killing me, can we open the windows?",
    "este calor me está matando, podemos abrir las ventanas?",
    "эта жара меня убивает, можно открыть окна?",
    "ev germ min dikuje, em dikarin pencereyan vekin?",
    "دارم میمیرم بدونم جواب پناهندگیم چی شد",
])
def test_idioms_are_no_phrase_hit(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level is None


@pytest.mark.parametrize("text", ["I want to kill time", "how can I kill time in the camp",
                                  "killer headache today", "my phone died"])
def test_an_idiom_alone_asks_for_nobody(text: str) -> None:
    """The whole screen, net included: a flag resting on the idiom alone is dropped."""
    assert SCREENER.screen(text).level is None


@pytest.mark.parametrize("text", ["I'm killing time until I kill myself tonight",
                                  "my phone died and I want to die"])
def test_an_idiom_does_not_hide_a_crisis_beside_it(text: str) -> None:
    assert SCREENER.screen(text).level == "high"


def test_a_typo_of_a_long_phrase_still_pages_but_another_word_does_not() -> None:
    typo = SCREENER.phrase_result("i will kill myslef tonight")
    assert typo.found.level == "high" or typo.near.level == "high"
    other_word = SCREENER.phrase_result("esta espera me está matando")  # "me está atacando" is a phrase
    assert other_word.found.level is None


def test_a_phrase_split_by_a_comma_is_still_found() -> None:
    assert SCREENER.phrase_result("💊💊💊, goodbye everyone").found.level == "high"


def test_quick_high_agrees_with_the_phrase_pass() -> None:
    assert SCREENER.quick_high("he is beating me right now please help")
    assert not SCREENER.quick_high("I am not suicidal, I just need a lawyer")
    assert not SCREENER.quick_high("how do I register my kids for school?")


def _phrases(found: Screening = NONE, negated: Screening = NONE, near: Screening = NONE) -> PhraseResult:
    return PhraseResult(found, negated, "the rest", near)


T = Thresholds(any=0.3, high=0.5, floor=0.1)
HIGH = Screening("high", "violence", 1.0, "phrase")
MEDIUM = Screening("medium", "trafficking", 0.6, "phrase")


def test_decide_a_high_phrase_pages_whatever_the_net_says() -> None:
    assert decide(_phrases(HIGH), Scores(0.01, 0.01, "violence"), T).level == "high"


def test_decide_the_net_alone_flags_and_pages_at_its_thresholds() -> None:
    assert decide(_phrases(), Scores(0.29, 0.1, "distress"), T).level is None
    assert decide(_phrases(), Scores(0.31, 0.1, "distress"), T).level == "medium"
    assert decide(_phrases(), Scores(0.9, 0.51, "medical"), T).level == "high"


def test_a_page_from_the_net_names_the_nearest_high_category_not_distress() -> None:
    """The nearest crisis exemplar may be a MEDIUM one ("distress"); a page names what the nearest HIGH crisis is."""
    paged = decide(_phrases(), Scores(0.9, 0.51, "distress", high_category="violence"), T)
    assert (paged.level, paged.category) == ("high", "violence")
    flagged = decide(_phrases(), Scores(0.9, 0.1, "distress", high_category="violence"), T)
    assert (flagged.level, flagged.category) == ("medium", "distress")
    scores = SCREENER.semantic_scores("i feel so empty and tired of everything, nothing matters anymore")
    assert scores is not None and scores.high_category in HIGH_CATEGORIES


def test_decide_the_net_does_not_page_next_to_an_everyday_question() -> None:
    t = Thresholds(any=0.3, high=0.5, floor=0.1, page_margin=0.0, flag_margin=0.02)
    # nearest bank sentences (crisis, high, everyday, not high): a HIGH crisis is nearest -> page
    assert decide(_phrases(), Scores(0.9, 0.8, "medical", 0.9, 0.9, 0.7, 0.8), t).level == "high"
    # "the heater in our room is broken": an everyday question is nearer than any HIGH crisis -> a person
    assert decide(_phrases(), Scores(0.9, 0.8, "medical", 0.8, 0.8, 0.9, 0.9), t).level == "medium"
    # and nearer than any crisis at all by more than the margin: not flagged
    assert decide(_phrases(), Scores(0.4, 0.1, "medical", 0.8, 0.7, 0.83, 0.83), t).level is None
    assert decide(_phrases(), Scores(0.4, 0.1, "medical", 0.82, 0.7, 0.83, 0.83), t).level == "medium"
    # a HIGH phrase pages whatever is nearest
    assert decide(_phrases(HIGH), Scores(0.1, 0.1, "violence", 0.5, 0.5, 0.99, 0.99), t).level == "high"


def test_everyday_messages_are_taught_but_danger_in_the_faq_is_not_taught_away() -> None:
    faq = {text: (level, category) for text, level, category in SCREENER._faq}
    assert faq[CONTENT.faq_entry("work.can_i_work", "en").questions[0]] == (0, None)  # everyday
    threatened = CONTENT.faq_entry("safety.threatened_in_accommodation", "en").questions[0]
    assert faq[threatened] == (1, "violence")  # taught as MEDIUM: a person looks first
    hits = CONTENT.faq_entry("safety.violence_at_home", "en").questions[0]
    assert hits not in faq  # left to the net: a husband who hits can be an emergency
    texts, levels, _cats, weights = SCREENER.bank()
    assert len(texts) == len(levels) == len(weights)
    assert min(weights) > 0


def test_decide_a_medium_phrase_in_a_message_far_from_any_crisis_is_dropped() -> None:
    # "the smugglers beat us on the boat in 2021, should I tell the interviewer?"
    assert decide(_phrases(MEDIUM), Scores(0.05, 0.01, "trafficking"), T).level is None
    assert decide(_phrases(MEDIUM), Scores(0.15, 0.01, "trafficking"), T).level == "medium"
    assert decide(_phrases(MEDIUM), None, T).level == "medium"  # too short for the net: the phrase decides


def test_decide_a_sign_of_coercion_stands_however_calm_the_net_finds_it() -> None:
    coerced = PhraseResult(MEDIUM, NONE, "the rest", coerced=True)
    assert decide(coerced, Scores(0.01, 0.01, "trafficking"), T).level == "medium"
    assert decide(_phrases(MEDIUM), Scores(0.01, 0.01, "trafficking"), T).level is None


@pytest.mark.parametrize("text", [
    "the boss told us not to talk to the police, we just work and sleep",
    "we sleep at the workplace, the man who brought us keeps my wages",
    "ils nous ont dit de ne pas parler à la police, on dort sur le chantier",
])
def test_a_sign_of_coercion_is_flagged_even_when_the_rest_reads_calm(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "medium" and result.coerced
    assert SCREENER.screen(text).level is not None


@pytest.mark.parametrize("text", [
    "in 2019 the boss told us not to talk to the police, now I have papers, how do I renew them?",  # long ago
    'what does "forced to work" mean on the asylum form?',   # the words named, not said
    "I'm in debt with my phone company, what can I do?",    # an everyday word: the net decides
    "the office took my documents for the interview, when do I get them back?",  # offices take them too
    "on the news they said the workers were told not to talk to the police, so sad",  # the news
])
def test_a_story_a_quoted_term_or_an_everyday_word_is_no_sign_of_coercion(text: str) -> None:
    assert not SCREENER.phrase_result(text).coerced


@pytest.mark.parametrize("text, level", [
    ("ils m'ont dit de ne pas parler à la police", "medium"),   # the sign holds its own negation: "ne" is part of it
    ("they told me not to talk to the police", "medium"),
    ("je ne suis pas suicidaire", None),                         # a negator before a phrase still denies it
])
def test_a_sign_that_holds_a_negation_is_not_read_as_a_denial(text: str, level: str | None) -> None:
    assert SCREENER.phrase_result(text).found.level == level


@pytest.mark.parametrize("text", [
    "llevo dos semanas tosiendo un poquito de sangre, ¿dónde hay un médico?",
    "he's been coughing up a bit of blood since monday",
    "mon mari tousse un peu de sang depuis hier",
    "j'ai craché du sang ce matin",
])
def test_a_little_blood_coughed_or_vomited_pages(text: str) -> None:
    assert SCREENER.phrase_result(text).found == Screening("high", "medical", 1.0, "phrase")


@pytest.mark.parametrize("text, level", [
    ("si me deniegan otra vez me tiro por el balcón", "high"),           # the present for the near future
    ("i'm going to jump off the roof tonight", "high"),
    ("je ne serai plus en vie demain matin, dites à ma mère que je suis désolé", "high"),
    ("привязал верёвку к потолку", "high"),
    ("nos tienen encerrados y amenazan con vender a mi hermana", "high"),
    ("they want to marry my sister by force to a 50 year old man", "high"),
    ("men with knives are following me right now", "high"),
    ("this is my last message today, my credit is finished", "medium"),  # short of phone credit: no page
    ("I know where I'll do it, the interview is at the town hall", "medium"),  # a person looks, the net decides
    ("salto al tren de las 8 y llego a las 9", None),                     # I hop on the train
])
def test_methods_farewells_and_plain_danger_in_the_forms_people_type(text: str, level: str | None) -> None:
    assert SCREENER.phrase_result(text).found.level == level


def test_kurdish_i_do_not_sleep_is_a_sign_of_distress_like_cant_sleep() -> None:
    assert SCREENER.phrase_result("du heftê ye ez ranazim, her tim difikirim").found.level == "medium"
    assert SCREENER.phrase_result("ez nikarim razêm").found.level == "medium"


def test_a_typo_of_a_high_phrase_in_a_clause_of_long_ago_is_held_like_the_exact_phrase() -> None:
    then = SCREENER.phrase_result("i was coughing up blod in 2019 when i had tb, is the clinic open today?")
    assert (then.found.level, then.demoted.level, then.demoted.method) == ("medium", "high", "fuzzy")
    now = SCREENER.phrase_result("i am coughing up blod, is the clinic open today?")
    assert (now.found.level, now.found.method) == ("high", "fuzzy")


def test_decide_a_phrase_a_few_letters_off_needs_the_net_to_agree() -> None:
    near = Screening("high", "suicide_self_harm", 0.9, "near")
    assert decide(_phrases(near=near), Scores(0.1, 0.1, "suicide_self_harm"), T).level is None
    assert decide(_phrases(near=near), Scores(0.6, 0.2, "suicide_self_harm"), T).level == "high"


def test_decide_a_denial_can_be_flagged_but_never_pages() -> None:
    denied = _phrases(negated=Screening("high", "suicide_self_harm", 0.0, "phrase"))
    assert decide(denied, Scores(0.95, 0.95, "suicide_self_harm"), T).level == "medium"
    assert semantic_text(denied, "the whole message") == "the rest"
    assert semantic_text(_phrases(), "the whole message") == "the whole message"


def test_decide_an_idiom_alone_gets_no_flag_from_the_net_but_can_page() -> None:
    # "I'm bored, I need to kill time": the idiom was cleared, no phrase of distress is left beside it
    idiom = PhraseResult(NONE, NONE, "the rest", NONE, idiom=True)
    assert decide(_phrases(), Scores(0.4, 0.1, "distress"), T).level == "medium"
    assert decide(idiom, Scores(0.4, 0.1, "distress"), T).level is None
    assert decide(idiom, Scores(0.9, 0.8, "suicide_self_harm", 0.9, 0.9, 0.7, 0.8), T).level == "high"
    assert decide(PhraseResult(MEDIUM, NONE, "the rest", NONE, idiom=True),
                  Scores(0.4, 0.1, "trafficking"), T).level == "medium"


def _bank() -> tuple[np.ndarray, list[int]]:
    """Sixty unit vectors in 8 dimensions: crises around one axis, everyday sentences around another."""
    rng = np.random.default_rng(1)
    levels = [2] * 20 + [1] * 10 + [0] * 30
    axis = np.array([[1.0] + [0.0] * 7 if lv else [0.0, 1.0] + [0.0] * 6 for lv in levels])
    x = axis + 0.3 * rng.standard_normal((60, 8))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), levels


def test_the_nearest_neighbour_vote_reads_the_neighbourhood_and_is_deterministic() -> None:
    x, levels = _bank()
    heads = train_heads(x, levels, ["violence" if lv else None for lv in levels], [1.0] * 60)
    near_crisis, near_everyday = x[3] @ x.T, x[45] @ x.T
    vote_any, vote_high = heads.vote(near_crisis)
    assert vote_any > 0.9 and vote_high > 0.5
    assert heads.vote(near_everyday)[0] < 0.1
    again = train_heads(x.copy(), list(levels), ["violence" if lv else None for lv in levels], [1.0] * 60)
    assert again.vote(near_crisis) == (vote_any, vote_high)
    assert again.any.probability(x[3]) == heads.any.probability(x[3])


def test_the_vote_counts_each_sentence_at_its_bank_weight() -> None:
    x, levels = _bank()
    sims = x[3] @ x.T
    light = [0.0 if lv else 1.0 for lv in levels]  # the crises weigh nothing: only everyday sentences vote
    assert train_heads(x, levels, [None] * 60, light).vote(sims)[0] == 0.0


@pytest.mark.parametrize("text", [
    "i don't want to live in this hostel anymore, can i move?",
    "не хочу більше жити в гуртожитку",
    "не хочу больше жить в этом общежитии",
    "je ne veux plus vivre dans ce foyer",
    "no quiero vivir más en este albergue",
    "bu yurtta yaşamak istemiyorum",
])
def test_not_wanting_to_live_somewhere_is_no_suicide_phrase(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level is None


@pytest.mark.parametrize("text", [
    "i don't want to live in this world",
    "не хочу жити в цьому світі",
    "i dont want to live anymore, this camp is hell",
    "je ne veux plus vivre, ce foyer est l'enfer",
])
def test_not_wanting_to_live_at_all_still_pages(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level == "high"


@pytest.mark.parametrize("text, level", [
    ("my uncle died of an overdose last year, how do i get the death certificate", None),
    ("мой двоюродный брат умер от передозировки, как оформить свидетельство?", None),
    ("mi primo murió de una sobredosis, ¿cómo registro la muerte?", None),
    ("he took an overdose and is not waking up", "high"),
    ("اخدت جرعة زايدة", "high"),
])
def test_a_death_from_an_overdose_reported_is_not_an_overdose_now(text: str, level: str | None) -> None:
    assert SCREENER.phrase_result(text).found.level == level


@pytest.mark.parametrize("text", [
    "this paperwork is killing me, which form is for family reunion?",
    "ces papiers me tuent, c'est quel formulaire pour le regroupement familial ?",
    "estos papeles me están matando, ¿cuál es el formulario?",
    "эти бумаги меня убивают, какая форма нужна?",
    "bu evrak işleri beni öldürüyor, hangi form?",
    "ev kaxez min dikujin, forma ji bo malbatê kîjan e?",
    "waraaqahan way i dilayaan, foomka waa kee?",
    "از بیکاری دارم میمیرم اینجا، کلاس زبان هست؟",
])
def test_papers_and_boredom_that_kill_are_idioms(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level is None and result.idiom


@pytest.mark.parametrize("text", [
    "my friend took an overdose last year and survived, now he is fine",
    "mon cousin a fait une overdose l'an dernier, il va bien maintenant",
    "у брата в прошлом году была передозировка, сейчас он в порядке",
    "kuzenim geçen yıl aşırı doz aldı, şimdi iyi",
    "پسرعموم پارسال اوردوز کرد ولی الان خوبه",
])
def test_a_high_phrase_told_of_long_ago_is_flagged_not_paged_by_the_phrase(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "medium" and result.demoted.level == "high"
    assert SCREENER.quick_high(text)  # routed fast all the same: the net decides whether it pages


@pytest.mark.parametrize("text", [
    "I took an overdose last night, i feel sick",
    "j'ai fait une overdose ce soir",
    "last year was hard. tonight i will kill myself",     # long ago in another sentence
    "я хочу покончить с собой",
    "ev kaxez dibêjin ez ê xwe bikujim",                  # the papers are no idiom here
])
def test_a_crisis_now_still_pages_by_its_phrase(text: str) -> None:
    assert SCREENER.phrase_result(text).demoted.level is None
    if SCREENER.phrase_result(text).found.level == "high":
        assert SCREENER.screen(text).level == "high"


def test_decide_a_phrase_of_long_ago_pages_when_the_net_reads_a_crisis_now() -> None:
    overdose = Screening("high", "suicide_self_harm", 1.0, "phrase")
    told = PhraseResult(Screening("medium", "suicide_self_harm", 0.6, "phrase"), NONE, "the rest", NONE,
                        demoted=overdose)
    assert decide(told, Scores(0.9, 0.8, "suicide_self_harm"), T).level == "high"
    assert decide(told, Scores(0.2, 0.1, "suicide_self_harm"), T).level == "medium"
    assert decide(told, Scores(0.05, 0.01, "suicide_self_harm"), T).level is None  # a story, far from any crisis
    assert decide(told, None, T).level == "medium"  # too short for the net: a person looks


@pytest.mark.parametrize("text", [
    "mon propriétaire dit qu'il va me tuer si je paie encore en retard, il rigole, il est gentil",
    "хозяин квартиры сказал, что убьёт меня, если опять задержу оплату, шутит конечно",
    "господар квартири сказав, що вб'є мене, якщо знову затримаю оплату, жартує звісно",
    "xwediyê xanî got heke dîsa kirê dereng bidim wê min bikuje, henekan dike",
    "birayê min got ez ê te bikujim 😂 lê henek bû",
])
def test_a_threat_said_to_be_a_joke_is_flagged_not_paged_by_the_phrase(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "medium" and result.demoted.level == "high"
    # however calm the net finds it, a person looks: only a person can tell whether it was a joke
    assert decide(result, Scores(0.01, 0.01, "violence"), T).level == "medium"


def test_a_threat_laughed_off_by_the_one_who_made_it_is_still_flagged() -> None:
    assert SCREENER.screen("he said he'd kill me and laughed like it was a joke but I'm scared").level is not None


@pytest.mark.parametrize("text", [
    "хозяин сказал, что убьёт меня, он не шутит",   # the joke denied
    "i want to kill myself lol jk",                  # the first person's "jk" is no joke here
    "je vais me tuer ce soir",
    "mêrê min got ez ê te îşev bikujim, ez bi zarok re li parkê me",  # "my husband said: I'll kill you tonight"
])
def test_a_threat_not_said_to_be_a_joke_still_pages(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "high" and result.demoted.level is None
    assert SCREENER.screen(text).level == "high"


@pytest.mark.parametrize("text", [
    "i saw on the news a man drowned near the border, it's so sad",
    "j'ai vu aux infos qu'un homme s'est noyé dans la Manche, c'est triste",
    "видел в новостях, что парень утонул в реке, очень жаль",
    "haberlerde bir gencin denizde boğulduğunu gördüm, çok üzüldüm",
    "wararka ayaan ku arkay in wiil badda ku qarqay, aad baan u murugooday",
])
def test_news_of_strangers_is_no_page(text: str) -> None:
    assert SCREENER.phrase_result(text).news is not None
    assert SCREENER.screen(text).level != "high"


@pytest.mark.parametrize("text", [
    "I saw on the news they deport people to Afghanistan next week, I have the pills ready and I will take them all tonight",
    "on the news they said the borders close, i bought a rope, i know where i will do it",
    "в новостях сказали, что нас депортируют, я хочу покончить с собой",
])
def test_a_crisis_beside_the_news_still_pages(text: str) -> None:
    assert SCREENER.screen(text).level == "high"


def test_decide_news_alone_is_flagged_but_not_paged_by_the_net() -> None:
    news = PhraseResult(NONE, NONE, "the rest", NONE, news="")
    assert decide(news, Scores(0.9, 0.8, "suicide_self_harm", 0.9, 0.9, 0.7, 0.8), T).level == "medium"
    assert decide(_phrases(), Scores(0.9, 0.8, "suicide_self_harm", 0.9, 0.9, 0.7, 0.8), T).level == "high"
    assert decide(PhraseResult(HIGH, NONE, "the rest", NONE, news=""), Scores(0.1, 0.1, "violence"), T).level == "high"


@pytest.mark.parametrize("text", [
    "i want to die lol 😂",
    "hahaha 😂 tonight i will kill myself, nobody cares",
])
def test_a_cheerful_emoji_does_not_hide_a_crisis_phrase(text: str) -> None:
    assert SCREENER.screen(text).level == "high"


@pytest.mark.parametrize("text", [
    "nobody would even notice if i was gone 😅",
    "he said if i tell anyone he will hurt my kids 😅",
])
def test_a_crisis_told_with_a_laugh_is_still_flagged(text: str) -> None:
    assert SCREENER.screen(text).level is not None  # a laughing emoji tells nothing: see content/crisis/masked_dev.tsv


@pytest.mark.parametrize("text", [
    "i want to volunteer for a suicide prevention line, can i while my claim is pending?",
    "je voudrais être bénévole sur une ligne de prévention du suicide",
    "quiero hacer voluntariado en una línea de prevención del suicidio",
    "хочу волонтёрить на телефоне доверия по профилактике суицидов",
    "хочу волонтерити на лінії профілактики самогубств",
    "how much calpol for a 3 year old? the leaflet talks about overdose and liver damage, im scared to get it wrong",
    "сколько парацетамола можно дочке 3 года? в инструкции про передозировку и печень, боюсь ошибиться",
    "¿cuánto apiretal le doy a mi niña de 3 años? el prospecto habla de sobredosis y me da miedo equivocarme",
])
def test_a_topic_is_no_phrase_hit(text: str) -> None:
    # suicide prevention to volunteer for, an overdose a medicine leaflet warns of
    assert SCREENER.phrase_result(text).found.level is None


@pytest.mark.parametrize("text", [
    "i called the suicide prevention line but nobody answered, i want to kill myself tonight",
    "paroldan kaç tane içersem ölürüm? iki kutu aldım bu gece hepsini içeceğim",
    "laba baakadood baan iibsaday caawa dhammaan waan liqayaa",
    "ክልተ ሳንዱቕ ገዚአ ሎሚ ለይቲ ኩሉ ክውሕጦ እየ",
    "min du qutî kirîn îşev ez ê hemûyan vexwim",
    "i read the leaflet about overdose and i will take them all tonight",
])
def test_pills_bought_to_take_all_tonight_page(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level == "high"


@pytest.mark.parametrize("text", [
    "i work as a security guard, last month two guests took an overdose, the ambulance came in time",
    "agent de sécurité, le mois dernier deux jeunes ont fait une overdose, les pompiers sont arrivés à temps",
])
def test_a_month_ago_is_long_ago_for_a_high_phrase(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "medium" and result.demoted.level == "high"


def test_half_the_kinds_of_the_third_development_set_teach_the_net() -> None:
    taught = [r for r in CONTENT.crisis_dev3 if dev3_taught(r["kind"])]
    held = [r for r in CONTENT.crisis_dev3 if not dev3_taught(r["kind"])]
    assert len(taught) > 100 and len(held) > 100
    labelled = {r["text"] for r in CONTENT.crisis_labelled}
    assert all(r["text"] in labelled for r in taught)
    assert not any(r["text"] in labelled for r in held)
    assert {dev3_taught(r["kind"]) for r in CONTENT.crisis_dev3 if r["kind"] == "lost_cat"} \
        == {dev3_taught("lost_cat_twin")}  # a crisis twin goes where its look-alike goes


def test_the_lens_stretches_what_tells_a_sign_from_its_everyday_twin() -> None:
    rng = np.random.default_rng(7)
    everyday = rng.normal(size=(40, 16))
    signs = everyday.copy()
    signs[:, 3] += 2.0  # the signs differ from their twins along one axis only
    lens = Lens.of(signs, everyday, dims=2)
    assert lens.basis.shape == (16, 2)
    assert abs(abs(lens.basis[3, 0]) - 1.0) < 1e-6  # the first direction is that axis
    a, b = np.zeros(16), np.zeros(16)
    a[[0, 3]], b[[0, 3]] = (1.0, 0.3), (1.0, -0.3)
    raw = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert float(lens(a) @ lens(b)) < raw - 0.05  # twins drift apart
    assert np.allclose(np.linalg.norm(lens(np.stack([a, b])), axis=1), 1.0)
    still = Lens.of(np.zeros((0, 16)), np.zeros((0, 16)))  # no pairs: the lens changes nothing but the length
    assert np.allclose(still(a), a / np.linalg.norm(a))


def test_half_the_kinds_of_the_health_set_teach_the_lens_and_the_others_drift_apart_through_it() -> None:
    """The pairs of the kinds the lens never saw (a stroke, a fall, a limp child ... beside an everyday message of
    the same words) sit further apart through it than in e5's own space: it learnt what tells them apart, not them."""
    rows = CONTENT.crisis_health
    taught = twins(rows)
    assert len(taught) > 200 and {dev3_taught(r["kind"].removesuffix("_twin")) for r in rows} == {True, False}
    taught_texts = {t for pair in taught for t in pair}
    held = twins(rows, taught=False)
    assert len(held) > 200 and not any(a in taught_texts or b in taught_texts for a, b in held)
    signs = embeddings.embed([a for a, _b in held])
    calm = embeddings.embed([b for _a, b in held])
    lens = SCREENER.lens()
    before = float(np.mean(np.sum(signs * calm, axis=1)))
    after = float(np.mean(np.sum(lens(signs) * lens(calm), axis=1)))
    assert after < before - 0.01, (before, after)


@pytest.mark.parametrize("text", [
    "my friends dad passed away back home, heart attack, and she cant travel for the funeral. what do i say?",
    "у подруги дома умер папа, инфаркт, а она не может поехать на похороны. как её поддержать?",
    "al papá de mi amiga le dio un infarto y falleció, ella no puede viajar al entierro",
])
def test_a_medical_phrase_of_someone_mourned_is_flagged_not_paged_by_the_phrase(text: str) -> None:
    result = SCREENER.phrase_result(text)
    assert result.found.level == "medium" and result.demoted.category == "medical"


@pytest.mark.parametrize("text", [
    "my dad passed away of a heart attack, the funeral was today, i want to kill myself",  # not medical
    "my father is having a heart attack right now, he is not breathing",                    # nobody mourned
])
def test_mourning_leaves_other_crises_and_emergencies_now_alone(text: str) -> None:
    assert SCREENER.phrase_result(text).found.level == "high"


def test_despair_beside_the_news_is_still_flagged() -> None:
    assert SCREENER.screen("on the news they said all afghans will be deported. i cant").level is not None


@pytest.mark.parametrize("text, level", [
    ("بعد ما ضربني بدي اقتل حالي", "high"),        # after he hit me I want to kill myself: "ما" is "after", not "not"
    ("بعد ما اكل فستق لسانه انتفخ", "high"),        # after he ate pistachios his tongue swelled
    ("كل ما بشوفه بدي موت", "high"),                # whenever I see him I want to die
    ("وبعد ما ضربني بدي اقتل حالي", "high"),       # and after he hit me ...: the conjunction takes a clitic too
    ("ما بدي اقتل حالي، بس بدي محامي", None),       # I don't want to kill myself, I just need a lawyer
])
def test_an_arabic_conjunction_is_no_negation(text: str, level: str | None) -> None:
    assert SCREENER.phrase_result(text).found.level == level


@pytest.mark.parametrize("text", [
    "бригадир сказав документи всім віддати водію ще в автобусі, нормально це?",
    "нам сказали паспорт одразу віддати водієві, а гроші за дорогу відпрацюємо",
    "сказали документы надо сразу отдать водителю, так все делают",
])
def test_documents_handed_to_a_driver_a_few_words_apart_are_flagged(text: str) -> None:
    assert SCREENER.phrase_result(text).found == Screening("medium", "trafficking", 0.6, "phrase")
