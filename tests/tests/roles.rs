//! Roles on a board with access control: each role's allowed edits reach everyone and the disk,
//! refused ones reach no one, are not stored, and the sender's own view is corrected.

use client_protocol::access::Role;
use client_protocol::schema::{instantiate, Board, BoardRefs, BoardWriter, Lang, NewCard};
use parcours_e2e::access::token_for as token;
use parcours_e2e::{access, node, TestClient, TestServer};
use serde_json::Value;

async fn secured() -> TestServer {
    TestServer::start_with(access::requiring_tokens).await
}

fn url(server: &TestServer, board: &str, token: &str) -> String {
    format!("{}?token={token}", server.board_url(board))
}

async fn join(server: &TestServer, board: &str, role: Role, sub: &str, name: &str) -> TestClient {
    TestClient::connect(&url(server, board, &token(board, role, sub, name)))
        .await
        .unwrap()
}

/// Edits the board in `client`'s document with the board writer, as participant `sub`, and
/// sends the change.
fn write(client: &TestClient, sub: &str, f: impl FnOnce(&mut BoardWriter<'_, '_>)) {
    client.edit(|txn| {
        let refs = BoardRefs::from_txn(txn);
        let mut w = BoardWriter::new(txn, &refs, 1_700_000_000_000).with_author_id(sub);
        f(&mut w);
    });
}

fn board(client: &TestClient) -> Board {
    client.with_doc(Board::from_doc)
}

/// A new card in the last stage (the tests remove the first one).
fn card(board: &Board, author: &str, text: &str) -> NewCard {
    NewCard {
        stage: board.stages.last().unwrap().id.clone(),
        lane: board.lanes[0].id.clone(),
        text: text.into(),
        author: author.into(),
        color: "#ffd166".into(),
        team: "product".into(),
    }
}

/// A facilitator, Fay, on a fresh board made from the customer-journey template.
async fn board_with_facilitator(server: &TestServer, id: &str) -> TestClient {
    let fay = join(server, id, Role::Facilitator, "p-fay", "Fay").await;
    write(&fay, "p-fay", |w| {
        instantiate(w, "customer-journey", Lang::En, "Q3 onboarding", None).unwrap();
    });
    fay
}

/// Waits until `client` holds `cards` cards.
async fn wait_for_cards(client: &TestClient, cards: usize) {
    client
        .wait_for(&format!("{cards} cards"), |c| board(c).cards.len() == cards)
        .await;
}

#[tokio::test]
async fn a_participants_allowed_edits_reach_everyone_and_disk_and_refused_ones_reach_no_one() {
    let server = secured().await;
    let fay = board_with_facilitator(&server, "q3").await;
    let ana = join(&server, "q3", Role::Participant, "p-ana", "Ana").await;
    ana.wait_for("the template", |c| !board(c).stages.is_empty())
        .await;
    let template = board(&ana);

    // Allowed: a card in her own name, then a dot vote on it.
    write(&ana, "p-ana", |w| {
        w.add_card(&card(&template, "Ana", "Too many steps"))
            .unwrap();
    });
    wait_for_cards(&fay, 1).await;
    let mine = board(&fay).cards[0].id.clone();
    write(&ana, "p-ana", |w| {
        w.vote(&mine, "p-ana").unwrap();
    });

    // Refused: renaming the board, removing a stage, signing a card as someone else.
    write(&ana, "p-ana", |w| w.set_title("Hijacked"));
    ana.wait_for("a permission-denied message", |c| !c.denied().is_empty())
        .await;
    assert!(
        ana.denied()[0].contains("only facilitators change the board's settings"),
        "{:?}",
        ana.denied()
    );
    ana.wait_for("her title back to the board's", |c| {
        board(c).meta.title == "Q3 onboarding"
    })
    .await;
    let first_stage = template.stages[0].id.clone();
    write(&ana, "p-ana", |w| {
        w.remove_stage(&first_stage).unwrap();
    });
    write(&ana, "p-ana", |w| {
        w.add_card(&card(&template, "The CEO", "Approved")).unwrap();
    });
    ana.wait_for("three refusals", |c| c.denied().len() == 3)
        .await;
    wait_for_cards(&ana, 1).await; // the forged card was taken back out of her view

    // A last allowed edit: once Fay has it, she has everything Ana sent before it.
    write(&ana, "p-ana", |w| {
        w.add_card(&card(&template, "Ana", "Second idea")).unwrap();
    });
    wait_for_cards(&fay, 2).await;
    let seen = board(&fay);
    assert_eq!(seen.meta.title, "Q3 onboarding");
    assert_eq!(seen.stages.len(), template.stages.len());
    assert!(seen.cards.iter().all(|c| c.author == "Ana"));
    assert!(seen.cards.iter().all(|c| c.author_id == "p-ana"));
    let voted = seen.cards.iter().find(|c| c.id == mine).unwrap();
    assert_eq!(voted.votes.get("p-ana"), Some(&1));

    // On disk: exactly what everyone saw.
    drop((ana, fay));
    let server = server.restart().await;
    let reader = join(&server, "q3", Role::Viewer, "v-1", "Val").await;
    let stored = board(&reader);
    assert_eq!(stored.meta.title, "Q3 onboarding");
    assert_eq!(stored.stages.len(), template.stages.len());
    assert_eq!(stored.cards.len(), 2);
    assert_eq!(
        stored
            .cards
            .iter()
            .find(|c| c.id == mine)
            .unwrap()
            .votes
            .get("p-ana"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_board_loaded_without_its_access_index_builds_it_when_a_participant_first_edits() {
    let server = TestServer::start_with(|config| {
        access::requiring_tokens(config);
        // As on an open server: boards load without the index.
        config.room.index_for_access = false;
    })
    .await;
    let fay = board_with_facilitator(&server, "lazy").await;
    let template = board(&fay);
    write(&fay, "p-fay", |w| {
        w.add_card(&card(&template, "Fay", "Fay's idea")).unwrap();
    });
    // Stored once another participant has it.
    wait_for_cards(&join(&server, "lazy", Role::Viewer, "v-0", "Vic").await, 1).await;
    drop(fay);
    // Loaded from disk: everything in it was written before this server started.
    let server = server.restart().await;
    let ana = join(&server, "lazy", Role::Participant, "p-ana", "Ana").await;
    wait_for_cards(&ana, 1).await;
    let loaded = board(&ana);
    let (stage, fays) = (loaded.stages[0].id.clone(), loaded.cards[0].id.clone());

    // Refused: removing a stage that was on the board before she came; allowed: a vote.
    write(&ana, "p-ana", |w| {
        w.remove_stage(&stage).unwrap();
    });
    ana.wait_for("a refusal", |c| !c.denied().is_empty()).await;
    write(&ana, "p-ana", |w| {
        w.vote(&fays, "p-ana").unwrap();
    });
    let val = join(&server, "lazy", Role::Viewer, "v-1", "Val").await;
    val.wait_for("Ana's vote", |c| {
        board(c).cards[0].votes.get("p-ana") == Some(&1)
    })
    .await;
    let seen = board(&val);
    assert_eq!(seen.stages.len(), template.stages.len());
    // Only the stage's removal was refused (if her client sent it again in its answer to the
    // server's step 1, it was refused again), never her vote.
    assert!(
        ana.denied()
            .iter()
            .all(|reason| reason.contains("only facilitators change personas, stages and lanes")),
        "{:?}",
        ana.denied()
    );
}

#[tokio::test]
async fn a_viewer_changes_nothing_and_its_view_is_corrected() {
    let server = secured().await;
    let fay = board_with_facilitator(&server, "look").await;
    let val = join(&server, "look", Role::Viewer, "v-1", "Val").await;
    val.wait_for("the template", |c| !board(c).stages.is_empty())
        .await;
    let template = board(&val);

    write(&val, "v-1", |w| {
        w.add_card(&card(&template, "Val", "Sneaky")).unwrap();
    });
    val.wait_for("a permission-denied message", |c| !c.denied().is_empty())
        .await;
    assert!(val.denied()[0].contains("viewers cannot change the board"));
    val.wait_for("the card taken back", |c| board(c).cards.is_empty())
        .await;

    // Fay's next edit reaches Val: the room still serves both, and nothing of Val's spread.
    write(&fay, "p-fay", |w| w.set_title("Q3, revised"));
    val.wait_for("Fay's title", |c| board(c).meta.title == "Q3, revised")
        .await;
    assert!(board(&fay).cards.is_empty());
    assert_eq!(board(&val), board(&fay));

    drop((val, fay));
    let server = server.restart().await;
    let reader = join(&server, "look", Role::Viewer, "v-2", "Vic").await;
    assert!(board(&reader).cards.is_empty());
    assert_eq!(board(&reader).meta.title, "Q3, revised");
}

#[tokio::test]
async fn a_facilitator_changes_the_structure_and_runs_the_timer_and_voting() {
    let server = secured().await;
    let fay = board_with_facilitator(&server, "run").await;
    let ana = join(&server, "run", Role::Participant, "p-ana", "Ana").await;
    ana.wait_for("the template", |c| !board(c).stages.is_empty())
        .await;
    let stages = board(&ana).stages.len();
    let first_stage = board(&fay).stages[0].id.clone();
    write(&fay, "p-fay", |w| {
        w.remove_stage(&first_stage).unwrap();
        w.start_timer(5 * 60_000, "Pain points");
        w.open_voting(3);
    });
    ana.wait_for("the facilitator's changes", |c| {
        let b = board(c);
        b.stages.len() == stages - 1
            && b.workshop.timer_label == "Pain points"
            && b.workshop.voting_open == Some(true)
    })
    .await;

    // A participant cannot stop the timer.
    write(&ana, "p-ana", |w| w.stop_timer());
    ana.wait_for("a permission-denied message", |c| !c.denied().is_empty())
        .await;
    assert!(ana.denied()[0].contains("only facilitators run the timer"));
    ana.wait_for("the timer back in her view", |c| {
        board(c).workshop.timer_ends_at.is_some()
    })
    .await;
    assert!(board(&fay).workshop.timer_ends_at.is_some());
}

#[tokio::test]
async fn a_viewers_stock_js_client_reads_and_shows_presence_but_its_edits_never_spread() {
    let server = secured().await;
    let fay = board_with_facilitator(&server, "js-view").await;
    fay.set_presence(r#"{"user":{"name":"Fay"}}"#);
    let viewer = token("js-view", Role::Viewer, "v-js", "Jo");
    let args = [
        server.boards_url(),
        "js-view".into(),
        viewer,
        "Jo".into(),
        "Fay".into(),
    ];
    let (output, ()) = tokio::join!(node::run("viewer.mjs", &args), async {
        fay.wait_for("the JS viewer's presence", |c| {
            c.presence().values().any(|p| p.contains("Jo"))
        })
        .await;
        // Tell the viewer it was seen, so that it stays until then.
        fay.set_presence(r#"{"user":{"name":"Fay"},"saw":"Jo"}"#);
    });
    let text = String::from_utf8_lossy(&output.stdout);
    let js: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(js["titleBefore"], "Q3 onboarding", "{js}");
    assert_eq!(js["title"], "Q3 onboarding", "{js}");
    assert_eq!(js["cardIds"], serde_json::json!([]), "{js}");
    assert!(
        js["denied"][0]
            .as_str()
            .unwrap()
            .contains("viewers cannot change the board"),
        "{js}"
    );

    // Nothing of the viewer's reached Fay or the disk: once a witness has Fay's next edit, it
    // has everything the room stored before it.
    let witness = join(&server, "js-view", Role::Viewer, "v-w", "Wes").await;
    write(&fay, "p-fay", |w| w.set_description("checked"));
    witness
        .wait_for("the description", |c| {
            board(c).meta.description == "checked"
        })
        .await;
    assert_eq!(board(&witness), board(&fay));
    assert_eq!(board(&fay).meta.title, "Q3 onboarding");
    assert!(board(&fay).cards.is_empty());
    drop((fay, witness));
    let server = server.restart().await;
    let reader = join(&server, "js-view", Role::Viewer, "v-2", "Vic").await;
    reader
        .wait_for("the description", |c| {
            board(c).meta.description == "checked"
        })
        .await;
    assert_eq!(board(&reader).meta.title, "Q3 onboarding");
    assert!(board(&reader).cards.is_empty());
}
