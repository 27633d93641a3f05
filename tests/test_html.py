"""Tests for crawler._html: main-content extraction from HTML."""

from __future__ import annotations

import pytest

from crawler._html import extract_html
from crawler._models import Document
from crawler.errors import ExtractionError

NAV = '<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop</a></li></ul></nav>'
FOOTER = "<footer><p>Copyright 2024 Example Corp. All rights reserved. Privacy policy.</p></footer>"
COOKIES = (
    '<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your '
    "experience. Accept all cookies?</p><button>Accept</button></div>"
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body>{NAV}{COOKIES}{body}{FOOTER}</body></html>"
    )


ARTICLE = page(
    "<article><h1>Rivers of the North</h1>"
    '<p class="byline">By Jane Doe</p>'
    + "".join(
        f"<p>Paragraph {i} tells how the glacial rivers of the north carve their valleys, "
        f"moving gravel and silt over thousands of years before reaching the cold sea.</p>"
        for i in range(6)
    )
    + "</article>",
    head=(
        "<title>Rivers of the North | Geo Weekly</title>"
        '<meta name="author" content="Jane Doe">'
        '<meta property="og:site_name" content="Geo Weekly">'
        '<meta name="description" content="How glacial rivers shape valleys.">'
        '<meta property="article:published_time" content="2024-03-05T10:00:00Z">'
    ),
)


def test_article_keeps_body_and_drops_boilerplate() -> None:
    doc = extract_html(ARTICLE, url="https://geo.example/rivers")
    assert isinstance(doc, Document)
    assert "glacial rivers of the north carve their valleys" in doc.text
    assert "Paragraph 5" in doc.text
    for boilerplate in ("All rights reserved", "We use cookies", "Shop"):
        assert boilerplate not in doc.text
    assert doc.format == "markdown"


FORUM = page(
    '<script type="application/ld+json">{"@context": "https://schema.org", '
    '"@type": "DiscussionForumPosting", "headline": "Sourdough starter smells like acetone"}'
    "</script>"
    '<div class="thread"><h1>Sourdough starter smells like acetone</h1>'
    + "".join(
        f'<div class="post"><div class="post-author"><a href="/u/{name}">{name}</a></div>'
        f'<div class="post-body"><p>{text}</p></div>'
        '<div class="signature"><p>Baking since 1998, mostly rye and spelt loaves.</p></div>'
        '<div class="controls"><a href="#reply">Reply</a> <a href="#quote">Quote</a></div></div>'
        for name, text in [
            ("breadfan", "My starter has smelled like nail polish remover for three days. "
             "I feed it once a day with rye flour. Is it dead?"),
            ("crumbshot", "It is hungry, not dead. Acetone smell means the yeast ran out of "
             "food; feed it twice a day for a week and keep it warm."),
            ("levainlady", "Agree with the reply above. Also discard more before feeding, "
             "a ratio of one part starter to five parts flour and water helps."),
            ("breadfan", "Feeding twice a day fixed it, thank you both! It doubled in six "
             "hours this morning."),
        ]
    )
    + '<div class="related-topics"><h3>Related topics</h3><ul>'
    + "".join(f'<li><a href="/t/{i}">Other topic number {i}</a></li>' for i in range(6))
    + "</ul></div></div>",
    head="<title>Sourdough starter smells like acetone - Bakers Forum</title>",
)


def test_forum_thread_keeps_every_reply() -> None:
    doc = extract_html(FORUM, url="https://forum.example/t/sourdough-acetone/123")
    for reply in ("nail polish remover", "It is hungry, not dead", "one part starter to five",
                  "Feeding twice a day fixed it"):
        assert reply in doc.text
    for boilerplate in ("All rights reserved", "We use cookies", "Other topic number 3", "Quote"):
        assert boilerplate not in doc.text
    assert doc.text.count("Baking since 1998") <= 1


PRODUCT = page(
    '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product", '
    '"name": "Trail Runner 2 Shoe", "offers": {"@type": "Offer", "price": "89.00"}}</script>'
    '<div class="product-page"><h1>Trail Runner 2 Shoe</h1><p class="price">$89.00</p>'
    "<form><select><option>Size 9</option><option>Size 10</option></select>"
    "<button>Add to cart</button></form>"
    '<div class="product-description"><h2>Details</h2>'
    "<p>A light trail shoe with a rock plate under the forefoot and a grippy lugged outsole "
    "for wet roots and loose gravel.</p>"
    "<ul><li>Weight: 280 g</li><li>Drop: 6 mm</li><li>Upper: recycled mesh</li></ul>"
    "<p>The padded collar and gusseted tongue keep grit out on long descents.</p>"
    "<p>The outsole rubber is soft enough to grip wet rock yet lasts around 600 kilometres, "
    "and the midsole foam keeps its bounce in the cold.</p>"
    "<p>Sizes run true; choose half a size up if you wear thick socks on winter runs.</p></div>"
    '<div class="recommendations"><h2>You may also like</h2>'
    + "".join(
        f'<div class="card"><a href="/p/{i}">Road Runner {i}</a><span>$7{i}.00</span></div>'
        for i in range(6)
    )
    + "</div></div>",
    head=(
        "<title>Trail Runner 2 Shoe | Shoe Shop</title>"
        '<meta property="og:type" content="product">'
    ),
)


def test_product_keeps_description_and_specs() -> None:
    doc = extract_html(PRODUCT, url="https://shop.example/products/trail-runner-2")
    for kept in ("rock plate under the forefoot", "Weight: 280 g", "gusseted tongue"):
        assert kept in doc.text
    for dropped in ("Add to cart", "Size 10", "We use cookies", "All rights reserved",
                    "Road Runner 4"):
        assert dropped not in doc.text


LISTING = page(
    "<main><h1>Latest news</h1>"
    + "".join(
        f'<div class="teaser"><h2><a href="/news/{i}">Council approves budget item {i}</a></h2>'
        f"<time>2024-05-0{i}</time><p>The council voted on measure {i} after a long debate "
        f"about parking fees, school repairs and the new library wing.</p></div>"
        for i in range(1, 8)
    )
    + '<div class="pagination"><a href="?page=2">2</a><a href="?page=3">3</a>'
    '<a href="?page=2">Next</a></div></main>',
    head="<title>News - Town Gazette</title>",
)


def test_repeated_link_cards_are_dropped_when_they_are_a_minority() -> None:
    html = page(
        "<div><h1>Field notes</h1>"
        + "<p>Notes from a week of mapping lichens on the granite boulders of the upper "
        "valley, with counts per boulder and the weather of each day.</p>" * 4
        + '<div class="more">'
        + "".join(f'<div class="tile"><a href="/n/{i}">Older note {i}</a><b>{i} min</b></div>'
                  for i in range(5))
        + "</div></div>"
    )
    doc = extract_html(html, url="https://notes.example/field")
    assert "mapping lichens" in doc.text
    assert "Older note 2" not in doc.text


def test_listing_keeps_every_item() -> None:
    doc = extract_html(LISTING, url="https://gazette.example/news/")
    for i in range(1, 8):
        assert f"Council approves budget item {i}" in doc.text
        assert f"voted on measure {i}" in doc.text
    for dropped in ("We use cookies", "All rights reserved", "Shop"):
        assert dropped not in doc.text


COLLECTION = page(
    '<div class="collection"><h1>Ceramic mugs</h1>'
    "<p>Hand-thrown stoneware mugs, glazed in small batches in our studio.</p>"
    '<ul class="product-grid">'
    + "".join(
        f'<li class="product-card"><a href="/products/mug-{c}">{c.title()} speckle mug</a>'
        f'<span class="price">$3{i}.00</span></li>'
        for i, c in enumerate(["white", "blue", "sand", "moss", "clay", "ink", "rose", "ash"])
    )
    + "</ul></div>",
    head="<title>Ceramic mugs - Clay Studio</title>",
)


def test_collection_keeps_product_cards() -> None:
    doc = extract_html(COLLECTION, url="https://clay.example/collections/mugs")
    assert "Hand-thrown stoneware mugs" in doc.text
    for colour in ("White", "Moss", "Ash"):
        assert f"{colour} speckle mug" in doc.text
    for dropped in ("We use cookies", "All rights reserved"):
        assert dropped not in doc.text


DOCUMENTATION = page(
    '<div class="docs-layout"><div class="sidebar"><ul>'
    + "".join(f'<li><a href="/docs/{p}">{p.title()} guide</a></li>'
              for p in ("install", "config", "deploy", "upgrade", "faq"))
    + '</ul></div><div class="doc-content"><h1>Configuration</h1>'
    "<p>Settings are read from <code>app.toml</code> in the working directory, then from "
    "environment variables prefixed with <code>APP_</code>.</p>"
    "<h2>Example</h2><pre><code>[server]\nport = 8080\nworkers = 4</code></pre>"
    "<p>Environment variables override the file, so <code>APP_SERVER_PORT=9000</code> "
    "wins over the port written in the file.</p></div></div>",
    head="<title>Configuration - App docs</title>",
)


def test_documentation_keeps_code_and_drops_sidebar() -> None:
    doc = extract_html(DOCUMENTATION, url="https://app.example/docs/config")
    for kept in ("Settings are read from", "port = 8080", "Environment variables override"):
        assert kept in doc.text
    for dropped in ("Deploy guide", "Upgrade guide", "We use cookies", "All rights reserved"):
        assert dropped not in doc.text


SERVICE = page(
    '<div class="hero"><h1>Emergency plumbing, day and night</h1>'
    "<p>Licensed plumbers in the city within an hour, for burst pipes, blocked drains and "
    "broken water heaters.</p></div>"
    '<section class="services"><h2>What we fix</h2>'
    "<p>Leaks and burst pipes, blocked toilets and drains, water heater repair and "
    "replacement, and bathroom refits with a five-year guarantee on our work.</p>"
    "<h2>Prices</h2><p>A call-out costs 60 euros, including the first half hour.</p></section>"
    '<div class="newsletter"><p>Subscribe to our newsletter for seasonal offers.</p></div>',
    head="<title>City Plumbing - emergency plumbers</title>",
)


def test_service_page_keeps_offer_and_prices() -> None:
    doc = extract_html(SERVICE, url="https://plumbing.example/")
    for kept in ("Licensed plumbers in the city", "water heater repair", "60 euros"):
        assert kept in doc.text
    for dropped in ("Subscribe to our newsletter", "We use cookies", "All rights reserved"):
        assert dropped not in doc.text


def test_article_metadata() -> None:
    doc = extract_html(ARTICLE, url="https://geo.example/rivers")
    assert doc.title is not None and doc.title.startswith("Rivers of the North")
    assert doc.author == "Jane Doe"
    assert doc.date == "2024-03-05"
    assert doc.description == "How glacial rivers shape valleys."
    assert doc.site_name == "Geo Weekly"
    assert doc.language == "en"
    assert doc.url == "https://geo.example/rivers"


def test_bytes_input_and_text_format() -> None:
    doc = extract_html(ARTICLE.encode("utf-8"), output_format="text")
    assert doc.format == "text"
    assert "glacial rivers" in doc.text


def test_unknown_metadata_is_none() -> None:
    doc = extract_html(page("<main>" + "<p>Plain words about nothing in particular here.</p>" * 8
                            + "</main>"))
    assert doc.author is None
    assert doc.date is None or isinstance(doc.date, str)
    assert "None" not in (doc.title or "")


def test_fallback_returns_text_of_a_tiny_page() -> None:
    doc = extract_html("<html><body><div>Short note.</div></body></html>")
    assert "Short note." in doc.text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        b"",
        "<html><head><title>x</title></head><body></body></html>",
        "<html><body><script>var x = 1;</script><style>p{}</style></body></html>",
    ],
    ids=["empty", "blank", "empty-bytes", "empty-body", "only-scripts"],
)
def test_page_without_text_raises(html: str | bytes) -> None:
    with pytest.raises(ExtractionError, match="no text|empty"):
        extract_html(html, url="https://example.org/")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="output_format"):
        extract_html(ARTICLE, output_format="html")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str or bytes"):
        extract_html(123)  # type: ignore[arg-type]


def test_tables_can_be_left_out() -> None:
    html = page(
        "<article><h1>Tide times</h1>"
        + "<p>High and low water at the harbour mouth for the coming week, in local time, "
        "measured at the old pier gauge.</p>" * 3
        + "<table><tr><th>Day</th><th>High water</th></tr>"
        + "".join(f"<tr><td>Day {i}</td><td>0{i}:15 tideline</td></tr>" for i in range(1, 6))
        + "</table></article>"
    )
    assert "tideline" in extract_html(html).text
    assert "tideline" not in extract_html(html, include_tables=False).text


def test_noscript_content_of_a_javascript_app_is_read() -> None:
    posts = "".join(
        f"<div class='post'><p>Reply number {i} explains how to reset the router, step by "
        f"step, with the admin page and the factory button.</p></div>"
        for i in range(5)
    )
    html = (
        "<html><body><div id='app'></div><noscript><div class='crawler-view'>"
        f"<h1>Router keeps dropping Wi-Fi</h1>{posts}</div></noscript></body></html>"
    )
    doc = extract_html(html, url="https://community.example/t/router/9")
    assert "Reply number 4" in doc.text


def test_javascript_app_placeholder_falls_back_to_the_description() -> None:
    description = (
        "Hello all, my sourdough starter smells of acetone after three days of rye feeds "
        "and I wonder whether it is dead or just hungry."
    )
    html = (
        f'<html lang="en"><head><title>Starter smells of acetone - Bakers</title>'
        f'<meta name="description" content="{description}"></head>'
        '<body><div id="app"><p>Please enable JavaScript.</p></div></body></html>'
    )
    doc = extract_html(html, url="https://bakers.example/t/acetone/1")
    assert doc.text == description
    assert doc.extractor == "description"
    assert doc.title is not None and doc.title.startswith("Starter smells of acetone")


@pytest.mark.parametrize(
    ("head", "url", "hint"),
    [
        ('<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, '
         '{"@type": ["Product"], "offers": {"@type": "Offer"}}]}</script>', None, "product"),
        ('<script type="application/ld+json">{"@type": "DiscussionForumPosting"}</script>',
         None, "forum"),
        ('<meta property="og:type" content="article">', None, "article"),
        ('<script type="application/ld+json">{not json</script>',
         "https://docs.example/docs/install", "documentation"),
        ("", "https://example.org/", ""),
    ],
    ids=["jsonld-graph-product", "jsonld-forum", "og-article", "url-docs-bad-json", "none"],
)
def test_page_type_signals(head: str, url: str | None, hint: str) -> None:
    from crawler._html import _parse
    from crawler._html_signals import page_signals

    tree = _parse(f"<html><head>{head}</head><body><p>Some words here.</p></body></html>")
    assert tree is not None
    assert page_signals(tree, url).hint() == hint


def test_text_nested_deeper_than_libxml2s_default_limit_is_kept() -> None:
    # libxml2 stops at 256 levels unless told to parse a huge tree; page builders nest deeper.
    depth = 1500
    deep = (
        "<div>" * depth
        + "<p>"
        + " ".join(f"deepword{i}" for i in range(60))
        + "</p>"
        + "</div>" * depth
    )
    html = (
        "<html><body><p>A shallow paragraph with a few words of text in it.</p>"
        f"{deep}</body></html>"
    )
    doc = extract_html(html, url="https://deep.example/page")
    assert "deepword0" in doc.text and "deepword59" in doc.text


def test_deep_wrappers_are_unwrapped_without_losing_text() -> None:
    from crawler._html import _fallback_text, _parse
    from crawler._html_dom import dom_blocks

    deep = "<section>" * 900 + "<p>inner words stay</p>" + "</section>" * 900
    tree = _parse(f"<html><body><p>outer words stay</p>{deep}<p>tail words</p></body></html>")
    assert tree is not None
    texts = " ".join(block.text for block in dom_blocks(tree))
    for words in ("outer words stay", "inner words stay", "tail words"):
        assert words in texts
        assert words in _fallback_text(tree)


def test_product_description_from_json_ld_is_added_when_the_page_hides_it() -> None:
    description = (
        "Hand-stitched full-grain leather wallet with six card slots, a coin pocket "
        "and an RFID-blocking lining, made to age into a deep brown patina."
    )
    html = page(
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "Product", "name": "Field Wallet", "description": "{description}", '
        '"offers": {"@type": "Offer", "price": "59.00"}}</script>'
        '<div class="product"><h1>Field Wallet</h1><p class="price">$59.00</p>'
        "<p>Free shipping on orders over 50 dollars, returns within 30 days of delivery "
        "for a full refund to the original payment method.</p>"
        '<div id="tab-description" data-src="/api/description/field-wallet"></div></div>',
        head="<title>Field Wallet - Leather Goods</title>",
    )
    doc = extract_html(html, url="https://leather.example/products/field-wallet")
    assert "RFID-blocking lining" in doc.text
    assert doc.text.count("RFID-blocking") == 1
    # a description already on the page is not repeated
    assert extract_html(PRODUCT.replace(
        '"name": "Trail Runner 2 Shoe"',
        '"name": "Trail Runner 2 Shoe", "description": "A light trail shoe with a rock plate '
        'under the forefoot and a grippy lugged outsole for wet roots and loose gravel."',
    )).text.count("rock plate under the forefoot") == 1


def test_article_precision_pass_is_used_unless_it_cuts_into_the_story(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crawler._html as html_module

    tagged = ARTICLE.replace("<title>", '<meta property="og:type" content="article"><title>')
    doc = extract_html(tagged, url="https://geo.example/rivers")
    assert doc.extractor in ("trafilatura", "trafilatura-precision")
    for i in range(6):
        assert f"Paragraph {i} tells how" in doc.text
    story = doc.text

    precise_calls: list[dict] = []
    real_extract = html_module.trafilatura.extract

    def precision_gives(text: str):  # the precision pass returns ``text``
        def fake_extract(tree: object, **kwargs: object) -> str:
            if kwargs.get("favor_precision"):
                precise_calls.append(kwargs)
                return text
            return real_extract(tree, **kwargs)

        return fake_extract

    monkeypatch.setattr(html_module.trafilatura, "extract",
                        precision_gives("Paragraph 0 only, the precision pass kept a fragment."))
    doc = extract_html(tagged, url="https://geo.example/rivers")
    assert precise_calls
    assert doc.extractor == "trafilatura"  # under PRECISION_MIN_SHARE of the words: not used
    assert "Paragraph 5 tells how" in doc.text

    # most of the story, without its last paragraph: the precision pass is used
    shorter = story.rsplit("\n\n", 1)[0]
    monkeypatch.setattr(html_module.trafilatura, "extract", precision_gives(shorter))
    doc = extract_html(tagged, url="https://geo.example/rivers")
    assert doc.extractor == "trafilatura-precision"
    assert doc.text == shorter


def test_superscript_tags_are_not_left_in_the_text() -> None:
    html = page(
        "<article><h1>Units</h1>"
        + "<p>The tank holds 3 m<sup>3</sup> of water and the reading uses CO<sub>2</sub> "
        "sensors placed along the pipe, checked every morning by the night crew.</p>" * 5
        + "</article>"
    )
    text = extract_html(html).text
    assert "<sup>" not in text and "<sub>" not in text
    assert "3 m3" in text


def test_fill_lists_puts_back_dropped_items_but_never_loses_trafilaturas_text() -> None:
    from crawler._html import _fill_lists
    from crawler._html_dom import Block

    first = "The kettle boils a litre of water in three minutes flat."
    second = "The lid opens wide enough to clean the scale inside easily."
    blocks = [
        Block(first, first, 0, "p", "div>p.", None),
        Block("Capacity 1.7 litres", "Capacity 1.7 litres", 0, "li", "ul>li.", None),
        Block(second, second, 0, "p", "div>p.", None),
    ]
    merged = _fill_lists(f"{first}\n\n{second}", blocks, markdown=True)
    assert merged == f"{first}\n\n- Capacity 1.7 litres\n\n{second}"
    elsewhere = " ".join(["Reviews from buyers who found the kettle loud at night."] * 4)
    assert _fill_lists(f"{first}\n\n{second}\n\n{elsewhere}", blocks, markdown=True) == ""


def test_cookie_banners_are_stripped_before_trafilatura_reads_the_page() -> None:
    from crawler._html import _parse
    from crawler._html_dom import strip_overlays

    banner = (
        '<div class="cc-cookie_banner"><p>With our cookies we would like to offer you the '
        "best shopping experience possible, with suitable offers and remembered "
        "preferences. Agree to the use of cookies for statistics and marketing.</p></div>"
    )
    items = "".join(
        f'<div class="item"><h3>Studio headphone model {i}</h3><p>Closed back, '
        f"circumaural, {30 + i} ohm, detachable cable.</p></div>"
        for i in range(30)
    )
    tree = _parse(f"<html><body>{banner}<main><h1>Headphones</h1>{items}</main></body></html>")
    assert tree is not None
    stripped = strip_overlays(tree)
    assert "shopping experience" not in stripped.text_content()
    assert "Studio headphone model 29" in stripped.text_content()
    assert "shopping experience" in tree.text_content()  # a copy: the page is untouched
    # A page about cookies keeps its text even where its container is named for them.
    recipe = _parse(
        '<html><body><div class="cookie-recipe"><h1>Oat cookies</h1>'
        + "<p>Mix the oats, butter and sugar, then bake the cookies for twelve minutes.</p>" * 5
        + "</div></body></html>"
    )
    assert recipe is not None
    assert "bake the cookies" in strip_overlays(recipe).text_content()


# --- listing reading, inline links, disjoint candidates, repeated paragraphs -------------

STORIES = [
    ("Council approves the new library budget",
     "The council voted after a long debate about school repairs and the library wing."),
    ("Bridge repairs close the river road",
     "Lorries are diverted through the industrial estate until the end of the month."),
    ("Local bakery wins the regional bread prize",
     "The sourdough rye from the market square bakery beat forty other entries."),
    ("Night buses return to the old town",
     "Three routes run again on Friday and Saturday nights from the station."),
    ("School garden harvests its first pumpkins",
     "Pupils grew twelve varieties and will sell them at the autumn fair."),
    ("Football club signs a new goalkeeper",
     "The nineteen year old joins from the academy of a neighbouring town."),
]
# Each item is one <a> card: its title and its snippet are link text.
LINK_CARD_LISTING = page(
    '<div class="page"><h1>Town news</h1>'
    "<p>The latest stories from around the town, updated every morning.</p>"
    '<div class="stories">'
    + "".join(f'<a class="story" href="/news/{i}"><h3>{title}</h3><p>{snippet}</p></a>'
              for i, (title, snippet) in enumerate(STORIES))
    + "</div></div>",
    head="<title>Town news - Town Gazette</title>",
)


def _structure_text(html: str, url: str | None = None, markdown: bool = False) -> str:
    from crawler._html import _parse
    from crawler._html_dom import dom_blocks, render_blocks

    tree = _parse(html)
    assert tree is not None
    return render_blocks(dom_blocks(tree, url), markdown=markdown)


def test_listing_of_link_cards_keeps_every_item() -> None:
    # Without the listing reading, the page's only non-link text is the intro,
    # and both the structural candidate and the extraction collapse to it.
    url = "https://gazette.example/news/"
    for text in (_structure_text(LINK_CARD_LISTING, url), extract_html(LINK_CARD_LISTING,
                                                                        url=url).text):
        for title, snippet in STORIES:
            assert title in text
            assert snippet in text
        for dropped in ("We use cookies", "All rights reserved", "Shop"):
            assert dropped not in text


CATEGORIES = [
    "Tea", "Green tea", "Black tea blends", "White tea", "Oolong", "Herbal infusions",
    "Rooibos", "Matcha", "Chai spice mixes", "Iced tea", "Tea for beginners",
    "Teapots and kettles", "Cups and bowls", "Strainers and filters", "Storage tins",
    "Gift sets", "Tea with milk", "Tea without caffeine", "Japanese green teas",
    "Chinese green teas", "Indian black teas", "Kenyan black teas", "Smoked black teas",
    "Fruit infusions", "Mint and herbs", "Brewing guides", "Water and temperature",
    "Tea and health", "Tea and food", "Tea ceremony history", "Harvest calendar",
    "Grower portraits", "Shop news", "Events near you", "Reader questions",
    "Tasting notes", "Glossary of terms", "Sustainability reports", "Wholesale orders",
    "Gift cards", "Samples and minis", "Subscriptions box",
]
CATEGORY_MENU_PAGE = page(
    '<div class="wrap"><div class="text"><h1>Brewing green tea</h1>'
    "<p>Green tea turns bitter when the water is too hot: let boiled water cool to about "
    "eighty degrees before pouring it over the leaves.</p>"
    "<p>Steep the leaves for two minutes, then pour everything out so the leaves do not "
    "sit in the water.</p></div>"
    '<div class="categories"><h2>Browse by category</h2><ul>'
    + "".join(f'<li><a href="/c/{i}">{name}</a></li>' for i, name in enumerate(CATEGORIES))
    + "</ul></div></div>",
    head="<title>Brewing green tea - Tea House</title>",
)


def test_menu_of_short_links_is_not_taken_for_a_listing() -> None:
    # Links of one to three words are a menu, however many: they hold more words
    # than the article yet must not replace it.
    assert sum(len(name.split()) for name in CATEGORIES) > 2 * 40
    assert max(len(name.split()) for name in CATEGORIES) == 3
    url = "https://tea.example/guides/green-tea"
    for text in (_structure_text(CATEGORY_MENU_PAGE, url),
                 extract_html(CATEGORY_MENU_PAGE, url=url).text):
        assert "turns bitter when the water is too hot" in text
        assert "pour everything out" in text
        for entry in ("Browse by category", "Chai spice mixes", "Smoked black teas",
                      "Glossary of terms"):
            assert entry not in text


BREWERS_PAGE = page(
    '<div class="review"><h1>Three brewers, one month</h1>'
    '<p>For filter coffee I compared the brewers <a href="/b/aeropress">Aeropress</a>, '
    '<a href="/b/v60">Hario V60</a> and <a href="/b/chemex">Chemex</a> over a month.</p>'
    "<p>Each morning I weighed fifteen grams of beans, ground them medium fine and used "
    "water just off the boil.</p>"
    "<p>The paper filters of the last one gave the cleanest cup, while the press was the "
    "quickest to clean up afterwards.</p>"
    "<p>The cone needs a gooseneck kettle to pour slowly; with an ordinary kettle the water "
    "rushes through the grounds.</p>"
    '<div class="more">'
    + "".join(f'<div class="tile"><a href="/r/{i}">Older review {i}</a><b>{i} min</b></div>'
              for i in range(5))
    + "</div></div>",
    head="<title>Three brewers, one month - Coffee Notes</title>",
)


def test_links_inline_in_a_sentence_are_not_pruned_as_cards() -> None:
    # Three same-tag linked siblings look like a run of cards; the text between
    # them makes them part of a sentence.
    url = "https://coffee.example/reviews/brewers"
    structure = _structure_text(BREWERS_PAGE, url)
    assert "the brewers Aeropress, Hario V60 and Chemex over a month" in structure
    # a real run of link tiles on the same page is still pruned
    assert "Older review 2" not in structure
    text = extract_html(BREWERS_PAGE, url=url).text
    for name in ("Aeropress", "Hario V60", "Chemex"):
        assert name in text
    assert "brewers , and" not in text
    assert "Older review 2" not in text


@pytest.mark.parametrize(
    ("hint", "ratio", "expected"),
    [("", 0.7, True), ("documentation", 0.7, True), ("product", 0.3, True),
     ("article", 0.0, False)],
)
def test_structure_wins_when_it_reads_another_part_of_the_page(
    hint: str, ratio: float, expected: bool,
) -> None:
    from crawler._html import _prefer_structure

    # trafilatura kept a cookie notice; the structure read the page's text (same size).
    theirs = ("We value your privacy and use tracking technologies to measure visits, "
              "personalise offers and remember your choices.")
    ours = ("Emergency plumbers reach any address in the city within the hour for burst "
            "pipes, blocked drains and broken boilers.")
    assert _prefer_structure(theirs, ours, hint, ratio) is expected


def test_structure_does_not_win_when_it_shares_a_fifth_of_trafilaturas_words() -> None:
    from crawler._html import _prefer_structure

    theirs = " ".join(f"word{i}" for i in range(20))
    # 5 of trafilatura's 20 words (a quarter), same size: neither disjoint nor a superset
    ours = " ".join([f"word{i}" for i in range(5)] + [f"other{i}" for i in range(15)])
    assert _prefer_structure(theirs, ours, "", 0.7) is False
    # 3 of 20 (under DISJOINT_CONTAINMENT): the two read different parts of the page
    ours = " ".join([f"word{i}" for i in range(3)] + [f"other{i}" for i in range(17)])
    assert _prefer_structure(theirs, ours, "", 0.7) is True
    assert _prefer_structure(theirs, ours, "article", 0.0) is False


def test_repeated_paragraphs_are_dropped_case_punctuation_and_link_targets_ignored() -> None:
    from crawler._html import _drop_repeated_paragraphs

    long = ("A light trail shoe with a rock plate under the forefoot and a [grippy "
            "outsole](https://shop.example/tech/grip) for wet roots and loose gravel.")
    copy = ("A LIGHT trail shoe with a rock plate under the forefoot, and a [grippy "
            "outsole](https://shop.example/other) for wet roots and loose gravel!")
    short = "Ships free in two working days from our Leeds warehouse."  # 10 words
    text = f"# Trail Runner 2\n\n{long}\n\n{short}\n\n## Summary\n\n{copy}\n\n{short}"
    assert _drop_repeated_paragraphs(text) == (
        f"# Trail Runner 2\n\n{long}\n\n{short}\n\n## Summary\n\n{short}"
    )
    # nothing repeated: the text comes back as it was
    assert _drop_repeated_paragraphs(f"{long}\n\n{short}\n\n{short}") == (
        f"{long}\n\n{short}\n\n{short}"
    )


TRAIL_DESCRIPTION = (
    "A light trail shoe with a rock plate under the forefoot and a grippy lugged outsole "
    "for wet roots and loose gravel."
)
TRAIL_PARAGRAPHS = "".join(f"<p>{text}</p>" for text in (
    "The padded collar and gusseted tongue keep grit out on long descents over scree and sand.",
    "The outsole rubber is soft enough to grip wet rock yet lasts around six hundred kilometres.",
    "The midsole foam keeps its bounce in the cold, so winter runs feel the same as summer ones.",
    "Sizes run true; choose half a size up if you wear thick socks on long winter runs.",
))


def test_product_page_holds_its_repeated_description_once() -> None:
    # The summary tab repeats the description with a comma more, which trafilatura's
    # own exact-text deduplication misses.
    copy = TRAIL_DESCRIPTION.replace("forefoot and", "forefoot, and")
    html = page(
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "Product", "name": "Trail Runner 2", "description": "{TRAIL_DESCRIPTION}", '
        '"offers": {"@type": "Offer", "price": "89.00"}}</script>'
        '<div class="product"><h1>Trail Runner 2</h1><p class="price">$89.00</p>'
        f'<div class="description"><h2>Description</h2><p>{TRAIL_DESCRIPTION}</p>'
        f"{TRAIL_PARAGRAPHS}<p>Free returns within thirty days, no questions asked.</p></div>"
        f'<div class="summary"><h2>Summary</h2><p>{copy}</p>'
        "<p>Weight 280 g, drop 6 mm, recycled mesh upper.</p>"
        "<p>Free returns within thirty days - no questions asked!</p></div></div>",
        head="<title>Trail Runner 2 - Shoe Shop</title>",
    )
    text = extract_html(html, url="https://shop.example/products/trail-runner-2").text
    assert text.count("rock plate under the forefoot") == 1
    for kept in ("gusseted tongue", "six hundred kilometres", "Weight 280 g"):
        assert kept in text
    assert text.count("Free returns within thirty days") == 2  # short repeats stay


def test_article_keeps_a_repeated_paragraph() -> None:
    # A pull quote repeats a paragraph of the story: on an article, trafilatura's
    # text is left as it is.
    quote = ("The river moved more gravel in one night of flood than in the ten dry years "
             "before it, the survey team wrote")
    html = page(
        "<article><h1>Rivers of the North</h1>"
        + "".join(
            f"<p>Paragraph {i} tells how the glacial rivers of the north carve their valleys, "
            f"moving gravel and silt over thousands of years before reaching the cold sea.</p>"
            for i in range(4)
        )
        + f"<p>{quote}.</p><blockquote><p>{quote}!</p></blockquote>"
        + "<p>The survey continues next summer on the eastern tributaries.</p></article>",
        head=('<meta property="og:type" content="article">'
              "<title>Rivers of the North | Geo Weekly</title>"),
    )
    doc = extract_html(html, url="https://geo.example/rivers")
    assert doc.extractor.startswith("trafilatura")
    assert doc.text.count("in one night of flood") == 2


def test_structural_text_keeps_code_lines_in_a_fence() -> None:
    html = page(
        "<main><h1>Retry guide</h1>"
        "<p>Use this loop to retry the upload when the network fails for a moment.</p>"
        "<pre><code>for attempt in range(3):\n    upload(path)\n</code></pre></main>"
    )
    text = _structure_text(html, markdown=True)
    assert "```\nfor attempt in range(3):\n    upload(path)\n```" in text


def test_repeated_code_lines_are_not_dropped() -> None:
    from crawler._html import _drop_repeated_paragraphs

    line = '    log("retrying the upload of the file to the bucket after a short pause")'
    text = f"Intro.\n\n```\nfor attempt in range(3):\n{line}\n{line}\n```\n\nEnd."
    assert _drop_repeated_paragraphs(text) == text


def test_cards_wrapping_blocks_keep_their_links() -> None:
    cards = "".join(
        f'<a class="card" href="/news/{i}"><h3>Story number {i} about the town</h3>'
        f"<p>Snippet {i} of the story.</p></a>"
        for i in range(1, 5)
    )
    text = _structure_text(page(f"<main><div class='cards'>{cards}</div></main>"),
                           url="https://town.example/news/", markdown=True)
    for i in range(1, 5):
        assert f"### [Story number {i} about the town](https://town.example/news/{i})" in text
        assert f"Snippet {i} of the story." in text


def test_long_links_inside_a_paragraph_are_not_cards() -> None:
    html = page(
        "<main><p>I compared <a href='/a'>the Aeropress Go travel press</a>, "
        "<a href='/b'>the Hario V60 ceramic dripper</a> and "
        "<a href='/c'>the Chemex six cup glass</a>.</p>"
        + "".join(f"<p>Week {i}: notes on grind size, water temperature and the taste of the "
                  f"cup, written down every morning before work.</p>" for i in range(6))
        + "</main>"
    )
    text = _structure_text(html)
    for name in ("Aeropress Go travel press", "Hario V60 ceramic dripper", "Chemex six cup"):
        assert name in text


def test_metadata_of_a_page_without_text_and_escaped_twice() -> None:
    # The metadata comes from the page even when trafilatura finds no text, and a
    # meta content escaped twice reads as text.
    html = page(
        "<main><p>Menu</p></main>",
        head=('<title>Fish &amp; Chips Shop</title>'
              '<meta name="description" content="Fresh fish &amp;amp; chips every day, '
              'cooked to order by the harbour since 1952 for locals and visitors alike.">'
              '<meta property="og:site_name" content="Harbour Chippy">'
              '<meta property="article:published_time" content="2023-06-01T10:00:00Z">'),
    )
    doc = extract_html(html, url="https://chippy.example/")
    assert doc.title == "Fish & Chips Shop"
    assert doc.description is not None and doc.description.startswith("Fresh fish & chips")
    assert doc.site_name == "Harbour Chippy"
    assert doc.date == "2023-06-01"


def test_author_from_markup_only_on_articles_and_threads() -> None:
    body = ('<main><h1>Walnut desk</h1><div class="author">Sam Reviewer</div>'
            + "<p>Solid walnut, hand finished, with two drawers and cable management.</p>" * 6
            + "</main>")
    product = page(body, head='<meta property="og:type" content="product"><title>Desk</title>')
    assert extract_html(product, url="https://shop.example/p/desk").author is None
    story = body.replace("<main>", "<main><article>").replace("</main>", "</article></main>")
    article = page(story,
                   head='<meta property="og:type" content="article"><title>Desk</title>')
    assert extract_html(article, url="https://news.example/desk").author == "Sam Reviewer"


def _fake_trafilatura(monkeypatch: pytest.MonkeyPatch, balanced: str,
                      precise: str | None = None) -> None:
    """trafilatura returns ``balanced`` (and ``precise`` in precision mode)."""
    import crawler._html as html_module

    def fake_extract(tree: object, **kwargs: object) -> str:
        return precise if kwargs.get("favor_precision") and precise is not None else balanced

    monkeypatch.setattr(html_module.trafilatura, "extract", fake_extract)


STORY = [f"Paragraph {i} tells how the glacial rivers of the north carve their valleys over "
         f"thousands of years." for i in range(6)]


def test_article_precision_span_keeps_the_lines_it_dropped_inside_the_story(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tagged = ARTICLE.replace("<title>", '<meta property="og:type" content="article"><title>')
    balanced = "\n\n".join([
        "Trending: [Ten rivers you must see before they freeze](https://geo.example/ten)",
        STORY[0], STORY[1],
        "## Why the valleys widen each spring",
        "Read more: [How glaciers retreat in a warming climate](https://geo.example/melt)",
        STORY[2], "- Gravel", STORY[3], STORY[4], STORY[5],
        "Tags: rivers, glaciers, valleys, north, geology, seasons",
    ])
    # precision mode drops the edges and, inside, the subheading, the teaser and the item
    _fake_trafilatura(monkeypatch, balanced, "\n\n".join(STORY))
    doc = extract_html(tagged, url="https://geo.example/rivers")
    assert doc.extractor == "trafilatura-precision"
    assert "## Why the valleys widen each spring" in doc.text  # inside, 6 words: back
    for dropped in ("Trending", "Tags:", "Read more", "- Gravel"):  # edges, a link, too short
        assert dropped not in doc.text
    assert all(paragraph in doc.text for paragraph in STORY)
    assert doc.text.index("Why the valleys") < doc.text.index(STORY[2])


REVIEW_PARAGRAPHS = [
    f"Week {i} on the trail: the shoe's {part} held up on wet roots, loose gravel and long "
    f"descents, and it still felt light after thirty kilometres."
    for i, part in enumerate(("outsole", "midsole", "upper", "collar", "tongue", "laces",
                              "heel cup", "rock plate"))
]
PRODUCT_LD = ('<script type="application/ld+json">{"@context": "https://schema.org", '
              '"@type": "Product", "name": "Trail Runner 2"}</script>')


def test_product_markup_on_a_review_does_not_keep_trafilaturas_fragment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A review marks up the product it reviews; its text is sentences, not a shop page.
    review = page(PRODUCT_LD + "<article><h1>Trail Runner 2, reviewed</h1>"
                  + "".join(f"<p>{p}</p>" for p in REVIEW_PARAGRAPHS) + "</article>")
    # trafilatura stops after three of the eight paragraphs (above the product ratio)
    _fake_trafilatura(monkeypatch, "\n\n".join(REVIEW_PARAGRAPHS[:3]))
    doc = extract_html(review, url="https://runs.example/reviews/trail-runner-2")
    assert doc.extractor == "structure"
    assert all(paragraph in doc.text for paragraph in REVIEW_PARAGRAPHS)

    # A shop page with the same markup keeps trafilatura's description at that ratio:
    # the rest of its text is a specification list, prices and reviews' stars.
    shop = page(PRODUCT_LD + "<main><h1>Trail Runner 2</h1>"
                + "".join(f"<p>{p}</p>" for p in REVIEW_PARAGRAPHS[:3])
                + "<ul>" + "".join(f"<li>Size {s} in stock</li>" for s in range(36, 48))
                + "</ul><ul>" + "".join(f"<li>{c} colourway, $89</li>" for c in
                                        ("Black", "Red", "Moss", "Sand", "Navy", "Grey"))
                + "</ul></main>")
    doc = extract_html(shop, url="https://shop.example/products/trail-runner-2")
    assert doc.extractor == "trafilatura"
    assert "Size 40 in stock" not in doc.text


def test_article_precision_span_keeps_code_and_tables_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tagged = ARTICLE.replace("<title>", '<meta property="og:type" content="article"><title>')
    code = ["```", "git clone repo", "cd repo", "make", "```"]
    table = ["| river | km |", "| --- | --- |", "| Tana | 361 |"]
    balanced = "\n".join([STORY[0], "", *code, "", STORY[1], "", *table, "", STORY[2]])
    _fake_trafilatura(monkeypatch, balanced, "\n\n".join(STORY[:3]))
    text = extract_html(tagged, url="https://geo.example/rivers").text
    assert "\n".join(code) in text
    assert "\n".join(table) in text


EVENTS = [f"Sat {day} Oct, {name}, Pier {day % 4 + 1}, from 10:00 to 16:00"
          for day, name in enumerate(("Harbour rowing regatta", "Lantern walk", "Oyster market",
                                      "Brass band matinee", "Lifeboat open day", "Kite festival",
                                      "Seafront 10k run", "Model boat pond race", "Craft fair",
                                      "Sea shanty evening", "Tall ship visit", "Rock pool tour"),
                                     start=2)]


def test_a_declared_article_that_is_a_list_is_not_kept_to_trafilaturas_fragment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # og:type says "article", but neither text reads as sentences: it is a schedule
    schedule = page("<main><h1>What's on this month</h1><ul>"
                    + "".join(f"<li>{event}</li>" for event in EVENTS) + "</ul></main>",
                    head='<meta property="og:type" content="article"><title>Events</title>')
    _fake_trafilatura(monkeypatch, "\n".join(f"- {event}" for event in EVENTS[:3]))
    doc = extract_html(schedule, url="https://harbour.example/whats-on")
    assert doc.extractor == "structure"
    assert all(event in doc.text for event in EVENTS)

    # A real article stays with trafilatura's text even when it is the shorter one.
    tagged = ARTICLE.replace("<title>", '<meta property="og:type" content="article"><title>')
    _fake_trafilatura(monkeypatch, "\n\n".join(STORY[:3]))
    doc = extract_html(tagged, url="https://geo.example/rivers")
    assert doc.extractor.startswith("trafilatura")
    assert STORY[3] not in doc.text
