//! The storage story: the same tests, unchanged, on SQLite and on PostgreSQL (set
//! `MCPLATFORM_TEST_DATABASE_URL` to a PostgreSQL server to run them there).

use std::sync::Arc;
use std::time::Duration;

use mcplatform_core::crypto::NewSecretToken;
use mcplatform_core::ids::{McpServerId, OrgId, SessionId, UserId};
use mcplatform_core::mcp_server::{AuthMode, McpServerSettings, Slug};
use mcplatform_core::org::{OrgName, Role};
use mcplatform_core::user::{DisplayName, EmailAddress, PasswordHash, PlatformSession};
use mcplatform_store::testing::TestDatabase;
use mcplatform_store::{NewPlatformUser, PageRequest, Store, StoreError};
use time::OffsetDateTime;

pub(crate) fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

fn new_user(email: &str) -> NewPlatformUser {
    NewPlatformUser {
        email: EmailAddress::parse(email).unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        password_hash: Some(PasswordHash::from_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        )),
    }
}

pub(crate) async fn user(store: &Arc<dyn Store>, email: &str) -> UserId {
    store.create_user(&new_user(email), t(0)).await.unwrap().id
}

pub(crate) async fn org(store: &Arc<dyn Store>, name: &str, owner: UserId) -> OrgId {
    store.create_organization(&OrgName::parse(name).unwrap(), owner, t(0)).await.unwrap().id
}

#[tokio::test]
async fn users_are_unique_by_normalised_email() {
    let db = TestDatabase::create().await;
    let store = db.store().await;

    let created = store.create_user(&new_user("Ada@Example.com"), t(1)).await.unwrap();
    assert_eq!(created.email.as_str(), "ada@example.com");
    assert_eq!(created.created_at, t(1));
    assert!(created.password_hash.is_some());

    let again = store.create_user(&new_user("ada@example.COM"), t(2)).await;
    assert!(matches!(again, Err(StoreError::Conflict("email"))), "{again:?}");

    let found = store.find_user_by_email(&EmailAddress::parse("ADA@example.com").unwrap()).await;
    assert_eq!(found.unwrap().unwrap(), created);
    let missing = store.find_user_by_email(&EmailAddress::parse("bob@example.com").unwrap()).await;
    assert_eq!(missing.unwrap(), None);

    let new_hash = PasswordHash::from_phc("$argon2id$new".into());
    store.set_password_hash(created.id, &new_hash, t(3)).await.unwrap();
    let reloaded = store.get_user(created.id).await.unwrap();
    assert_eq!(reloaded.password_hash, Some(new_hash));
    assert_eq!(reloaded.updated_at, t(3));
    assert!(matches!(store.get_user(UserId::new()).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn an_organization_starts_with_its_creator_as_owner_and_members_can_be_managed() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;

    let acme =
        store.create_organization(&OrgName::parse("Acme").unwrap(), ada, t(5)).await.unwrap();
    assert_eq!(acme.name.as_str(), "Acme");
    assert_eq!(store.get_membership(acme.id, ada).await.unwrap().role, Role::Owner);
    assert_eq!(
        store.list_organizations_for_user(ada).await.unwrap(),
        vec![(acme.clone(), Role::Owner)]
    );
    assert!(store.list_organizations_for_user(bob).await.unwrap().is_empty());

    store.add_member(acme.id, bob, Role::Member, t(6)).await.unwrap();
    let twice = store.add_member(acme.id, bob, Role::Admin, t(7)).await;
    assert!(matches!(twice, Err(StoreError::Conflict("membership"))), "{twice:?}");

    let members = store.list_members(acme.id, PageRequest::ALL).await.unwrap().items;
    let summary: Vec<_> = members.iter().map(|m| (m.user.email.as_str(), m.role)).collect();
    assert_eq!(summary, vec![("ada@example.com", Role::Owner), ("bob@example.com", Role::Member)]);

    let promoted = store.set_member_role(acme.id, bob, Role::Admin).await.unwrap();
    assert_eq!(promoted.role, Role::Admin);
    store.remove_member(acme.id, bob).await.unwrap();
    assert!(matches!(store.get_membership(acme.id, bob).await, Err(StoreError::NotFound)));
    assert!(matches!(store.remove_member(acme.id, bob).await, Err(StoreError::NotFound)));

    let renamed = store
        .rename_organization(acme.id, &OrgName::parse("Acme Corp").unwrap(), t(9))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Acme Corp");
    assert_eq!(renamed.updated_at, t(9));
    assert_eq!(renamed.created_at, t(5));
}

#[tokio::test]
async fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    let acme = org(&store, "Acme", ada).await;

    let demote = store.set_member_role(acme, ada, Role::Admin).await;
    assert!(matches!(demote, Err(StoreError::Conflict("last_owner"))), "{demote:?}");
    let remove = store.remove_member(acme, ada).await;
    assert!(matches!(remove, Err(StoreError::Conflict("last_owner"))), "{remove:?}");
    assert_eq!(store.get_membership(acme, ada).await.unwrap().role, Role::Owner);

    // With a second owner, one of them may step down.
    store.add_member(acme, bob, Role::Owner, t(1)).await.unwrap();
    store.set_member_role(acme, ada, Role::Member).await.unwrap();
    let last = store.remove_member(acme, bob).await;
    assert!(matches!(last, Err(StoreError::Conflict("last_owner"))), "{last:?}");
}

#[tokio::test]
async fn two_owners_leaving_at_once_still_leave_one_owner() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    store.add_member(acme, bob, Role::Owner, t(1)).await.unwrap();

    let (first, second) =
        tokio::join!(store.remove_member(acme, ada), store.remove_member(acme, bob));
    let outcomes = [first, second];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|r| matches!(r, Err(StoreError::Conflict("last_owner")))));
    let owners = store.list_members(acme, PageRequest::ALL).await.unwrap().items;
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].role, Role::Owner);
}

#[tokio::test]
async fn memberships_need_an_existing_organization_and_user() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;

    let no_user = store.add_member(acme, UserId::new(), Role::Member, t(1)).await;
    assert!(matches!(no_user, Err(StoreError::NotFound)), "{no_user:?}");
    let no_org = store.add_member(OrgId::new(), ada, Role::Member, t(1)).await;
    assert!(matches!(no_org, Err(StoreError::NotFound)), "{no_org:?}");
    let orphan =
        store.create_organization(&OrgName::parse("Ghost").unwrap(), UserId::new(), t(1)).await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");
    assert_eq!(
        store.list_organizations_for_user(ada).await.unwrap().len(),
        1,
        "failed create left no row"
    );
}

fn settings(name: &str) -> McpServerSettings {
    McpServerSettings::new(name).unwrap()
}

#[tokio::test]
async fn mcp_servers_belong_to_one_organization_and_are_invisible_to_others() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let eve = user(&store, "eve@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let evil = org(&store, "Evil", eve).await;
    let slug = Slug::parse("acme-docs").unwrap();

    let server = store.create_mcp_server(acme, &slug, &settings("Acme Docs"), t(1)).await.unwrap();
    assert_eq!(server.organization_id, acme);
    assert_eq!(server.settings, settings("Acme Docs"));
    assert_eq!(store.get_mcp_server(acme, server.id).await.unwrap(), server);

    // Another organization cannot see, change or delete it, and cannot take its slug.
    assert!(matches!(store.get_mcp_server(evil, server.id).await, Err(StoreError::NotFound)));
    assert!(store.list_mcp_servers(evil, PageRequest::ALL).await.unwrap().items.is_empty());
    let hijack = store.update_mcp_server(evil, server.id, &settings("Pwned"), t(2)).await;
    assert!(matches!(hijack, Err(StoreError::NotFound)), "{hijack:?}");
    assert!(matches!(store.delete_mcp_server(evil, server.id).await, Err(StoreError::NotFound)));
    let squat = store.create_mcp_server(evil, &slug, &settings("Squat"), t(2)).await;
    assert!(matches!(squat, Err(StoreError::Conflict("slug"))), "{squat:?}");
    assert_eq!(store.get_mcp_server(acme, server.id).await.unwrap(), server, "unchanged");

    let mut changed = settings("Acme Docs v2");
    changed.auth_mode = AuthMode::CustomOauth;
    changed.support_tool_enabled = false;
    changed.telemetry_enabled = false;
    changed.access_token_ttl = Duration::from_secs(600);
    let updated = store.update_mcp_server(acme, server.id, &changed, t(3)).await.unwrap();
    assert_eq!(updated.settings, changed);
    assert_eq!(updated.updated_at, t(3));
    assert_eq!(store.find_mcp_server_by_slug(&slug).await.unwrap(), Some(updated.clone()));
    assert_eq!(store.list_mcp_servers(acme, PageRequest::ALL).await.unwrap().items, vec![updated]);

    store.delete_mcp_server(acme, server.id).await.unwrap();
    assert_eq!(store.find_mcp_server_by_slug(&slug).await.unwrap(), None);
    let after = store.get_mcp_server(acme, McpServerId::new()).await;
    assert!(matches!(after, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn deleting_an_organization_takes_its_servers_and_memberships_with_it() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let other = org(&store, "Other", ada).await;
    let slug = Slug::parse("acme-docs").unwrap();
    store.create_mcp_server(acme, &slug, &settings("Docs"), t(1)).await.unwrap();
    store
        .create_mcp_server(other, &Slug::parse("other").unwrap(), &settings("Other"), t(1))
        .await
        .unwrap();

    store.delete_organization(acme).await.unwrap();

    assert!(matches!(store.get_organization(acme).await, Err(StoreError::NotFound)));
    assert_eq!(store.find_mcp_server_by_slug(&slug).await.unwrap(), None);
    let remaining: Vec<_> = store
        .list_organizations_for_user(ada)
        .await
        .unwrap()
        .into_iter()
        .map(|(o, _)| o.id)
        .collect();
    assert_eq!(remaining, vec![other]);
    assert_eq!(
        store.list_mcp_servers(other, PageRequest::ALL).await.unwrap().items.len(),
        1,
        "other tenant untouched"
    );
    assert!(matches!(store.delete_organization(acme).await, Err(StoreError::NotFound)));
    // The slug is free again.
    store.create_mcp_server(other, &slug, &settings("Docs"), t(2)).await.unwrap();
}

fn session(user: UserId, expires_at: OffsetDateTime) -> (PlatformSession, NewSecretToken) {
    let token = NewSecretToken::generate("mcps_");
    let session = PlatformSession {
        id: SessionId::new(),
        user_id: user,
        token_hash: token.hash.clone(),
        active_organization_id: None,
        user_agent: Some("story-test".into()),
        ip_address: Some("127.0.0.1".into()),
        created_at: t(0),
        last_seen_at: t(0),
        expires_at,
    };
    (session, token)
}

/// Walks a list a page at a time, checking each page's continuation.
async fn walk<T, F, Fut>(size: u32, mut list: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = mcplatform_store::Result<mcplatform_store::Page<T>>>,
{
    let mut offset = Some(0);
    let mut all = Vec::new();
    while let Some(at) = offset {
        let page = list(PageRequest::new(size, at)).await.unwrap();
        assert!(page.items.len() <= size as usize);
        offset = page.next_offset;
        if offset.is_some() {
            assert_eq!(page.items.len(), size as usize, "only the last page is short");
        }
        all.extend(page.items);
    }
    all
}

#[tokio::test]
async fn members_and_servers_come_a_page_at_a_time_in_a_total_order() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    // Same join time and same names: only the id tells them apart.
    for n in 0..4 {
        let member = user(&store, &format!("m{n}@example.com")).await;
        store.add_member(acme, member, Role::Member, t(0)).await.unwrap();
        let slug = Slug::parse(&format!("docs-{n}")).unwrap();
        store.create_mcp_server(acme, &slug, &settings("Docs"), t(0)).await.unwrap();
    }

    let members = walk(2, |page| store.list_members(acme, page)).await;
    let everyone = store.list_members(acme, PageRequest::ALL).await.unwrap();
    assert_eq!(everyone.next_offset, None);
    assert_eq!(members, everyone.items);
    assert_eq!(members.len(), 5);
    let servers = walk(3, |page| store.list_mcp_servers(acme, page)).await;
    let mut ids: Vec<_> = servers.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids.len(), 4);
    let listed = ids.clone();
    ids.sort();
    assert_eq!(listed, ids, "equal names are ordered by id");

    let beyond = store.list_mcp_servers(acme, PageRequest::new(2, 10)).await.unwrap();
    assert_eq!((beyond.items.len(), beyond.next_offset), (0, None));
}

#[tokio::test]
async fn sessions_are_found_by_token_hash_until_they_expire() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let (live, token) = session(ada, t(100));
    store.create_session(&live).await.unwrap();

    assert_eq!(store.find_session(&token.hash, t(50)).await.unwrap(), Some(live.clone()));
    assert_eq!(
        store.find_session(&token.hash, t(100)).await.unwrap(),
        None,
        "expired at expires_at"
    );
    let unknown = NewSecretToken::generate("mcps_");
    assert_eq!(store.find_session(&unknown.hash, t(50)).await.unwrap(), None);

    store.touch_session(live.id, t(90), t(200)).await.unwrap();
    store.set_session_organization(live.id, Some(acme)).await.unwrap();
    let touched = store.find_session(&token.hash, t(150)).await.unwrap().unwrap();
    assert_eq!((touched.last_seen_at, touched.expires_at), (t(90), t(200)));
    assert_eq!(touched.active_organization_id, Some(acme));

    let bad_org = store.set_session_organization(live.id, Some(OrgId::new())).await;
    assert!(matches!(bad_org, Err(StoreError::NotFound)), "{bad_org:?}");

    // Deleting the organization keeps the session but clears its choice.
    store.delete_organization(acme).await.unwrap();
    let cleared = store.find_session(&token.hash, t(150)).await.unwrap().unwrap();
    assert_eq!(cleared.active_organization_id, None);

    store.delete_session(live.id).await.unwrap();
    assert_eq!(store.find_session(&token.hash, t(150)).await.unwrap(), None);
    assert!(matches!(store.delete_session(live.id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn logging_out_everywhere_and_expiry_sweeps_remove_the_right_sessions() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    for expires in [t(10), t(1000)] {
        store.create_session(&session(ada, expires).0).await.unwrap();
    }
    let (bobs, bob_token) = session(bob, t(10));
    store.create_session(&bobs).await.unwrap();

    assert_eq!(store.delete_user_sessions(ada).await.unwrap(), 2);
    assert_eq!(store.find_session(&bob_token.hash, t(5)).await.unwrap(), Some(bobs));
    assert_eq!(store.delete_expired_sessions(t(10)).await.unwrap(), 1);
    assert_eq!(store.find_session(&bob_token.hash, t(5)).await.unwrap(), None);
}

#[tokio::test]
async fn migrations_are_idempotent_and_data_survives_reconnecting() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    store.migrate().await.unwrap();
    store.close().await;
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));

    let reopened = db.store().await;
    reopened.ping().await.unwrap();
    assert_eq!(reopened.backend(), db.backend());
    assert_eq!(reopened.get_organization(acme).await.unwrap().name.as_str(), "Acme");
}

mod invitations_and_outbox {
    use mcplatform_core::crypto::NewSecretToken;
    use mcplatform_core::ids::InvitationId;
    use mcplatform_core::invitation::{INVITATION_LIFETIME, InvitationStatus};
    use mcplatform_core::org::Role;
    use mcplatform_core::outbox::NewEmail;
    use mcplatform_core::user::EmailAddress;
    use mcplatform_store::testing::TestDatabase;
    use mcplatform_store::{NewInvitation, PageRequest, StoreError};

    use super::{org, t, user};

    fn invite(
        org: mcplatform_core::ids::OrgId,
        email: &str,
        role: Role,
    ) -> (NewInvitation, NewSecretToken) {
        let token = NewSecretToken::generate("mcpi_");
        let invitation = NewInvitation {
            organization_id: org,
            email: EmailAddress::parse(email).unwrap(),
            role,
            invited_by: None,
            token_hash: token.hash.clone(),
            expires_at: t(0) + INVITATION_LIFETIME,
        };
        (invitation, token)
    }

    #[tokio::test]
    async fn an_invitation_is_accepted_once_and_makes_a_member() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let bob = user(&store, "bob@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let (new, token) = invite(acme, "bob@example.com", Role::Admin);
        let invitation = store.create_invitation(&new, t(0)).await.unwrap();
        assert_eq!(invitation.status(t(1)), InvitationStatus::Pending);

        let again =
            store.create_invitation(&invite(acme, "BOB@example.com", Role::Member).0, t(1)).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("invitation"))),
            "one open invitation per person"
        );

        let found = store.find_invitation_by_token(&token.hash).await.unwrap().unwrap();
        assert_eq!(found.id, invitation.id);
        let membership = store.accept_invitation(invitation.id, bob, t(2)).await.unwrap();
        assert_eq!(membership.role, Role::Admin);
        assert!(matches!(
            store.accept_invitation(invitation.id, bob, t(3)).await,
            Err(StoreError::NotFound)
        ));
        let closed = store.get_invitation(acme, invitation.id).await.unwrap();
        assert_eq!(closed.status(t(3)), InvitationStatus::Accepted);

        // Once closed, the same person can be invited again.
        store
            .create_invitation(&invite(acme, "bob@example.com", Role::Member).0, t(4))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn revoked_expired_and_foreign_invitations_cannot_be_used() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let eve = user(&store, "eve@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let evil = org(&store, "Evil", eve).await;

        let revoked = store
            .create_invitation(&invite(acme, "bob@example.com", Role::Member).0, t(0))
            .await
            .unwrap();
        assert!(matches!(
            store.revoke_invitation(evil, revoked.id, t(1)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(store.get_invitation(evil, revoked.id).await, Err(StoreError::NotFound)));
        store.revoke_invitation(acme, revoked.id, t(1)).await.unwrap();
        assert!(matches!(
            store.accept_invitation(revoked.id, eve, t(2)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.revoke_invitation(acme, revoked.id, t(2)).await,
            Err(StoreError::NotFound)
        ));

        let (carl, old_link) = invite(acme, "carl@example.com", Role::Member);
        let expiring = store.create_invitation(&carl, t(0)).await.unwrap();
        let late = t(0) + INVITATION_LIFETIME;
        assert!(matches!(
            store.accept_invitation(expiring.id, eve, late).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            matches!(store.get_membership(acme, eve).await, Err(StoreError::NotFound)),
            "no membership from a dead invitation"
        );

        // A resend gives a new link and a new expiry; the old link stops working.
        let fresh = NewSecretToken::generate("mcpi_");
        let renewed = store
            .renew_invitation(acme, expiring.id, &fresh.hash, late + INVITATION_LIFETIME)
            .await
            .unwrap();
        assert_eq!(
            store.find_invitation_by_token(&fresh.hash).await.unwrap().unwrap().id,
            renewed.id
        );
        assert!(store.find_invitation_by_token(&old_link.hash).await.unwrap().is_none());
        assert!(store.accept_invitation(renewed.id, eve, late).await.is_ok());
        assert!(matches!(
            store.renew_invitation(acme, InvitationId::new(), &fresh.hash, late).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.list_invitations(acme).await.unwrap().len(), 2);
        assert!(store.list_invitations(evil).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn accepting_when_already_a_member_keeps_the_current_role() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let invitation = store
            .create_invitation(&invite(acme, "ada@example.com", Role::Member).0, t(0))
            .await
            .unwrap();
        let membership = store.accept_invitation(invitation.id, ada, t(1)).await.unwrap();
        assert_eq!(membership.role, Role::Owner);
    }

    #[tokio::test]
    async fn the_outbox_keeps_messages_per_organization_and_tracks_delivery() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let evil = org(&store, "Evil", ada).await;
        for (n, org) in [(1, acme), (2, acme), (3, evil)] {
            let email = NewEmail {
                organization_id: Some(org),
                to: EmailAddress::parse("bob@example.com").unwrap(),
                subject: format!("message {n}"),
                body_text: "hello".into(),
            };
            store.enqueue_email(&email, t(n)).await.unwrap();
        }
        let acme_mail = store.list_outbox(acme, PageRequest::new(50, 0)).await.unwrap();
        assert_eq!(acme_mail.next_offset, None);
        let subjects: Vec<_> = acme_mail.items.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subjects,
            vec!["message 2", "message 1"],
            "newest first, this organization only"
        );
        let second = store.list_outbox(acme, PageRequest::new(1, 0)).await.unwrap();
        assert_eq!(second.next_offset, Some(1), "a second page exists");
        assert_eq!(
            store.list_outbox(acme, PageRequest::new(1, 1)).await.unwrap().items[0].subject,
            "message 1"
        );

        let due = store.due_emails(t(2), 10).await.unwrap();
        assert_eq!(due.len(), 2);
        store.mark_email_failed(due[0].id, "connection refused", t(100)).await.unwrap();
        store.mark_email_sent(due[1].id, t(3)).await.unwrap();
        let due = store.due_emails(t(50), 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), vec!["message 3"]);
        let retried = store.due_emails(t(100), 10).await.unwrap();
        let failed = retried.iter().find(|m| m.subject == "message 1").unwrap();
        assert_eq!(
            (failed.attempts, failed.last_error.as_deref()),
            (1, Some("connection refused"))
        );
    }
}

mod api_keys {
    use mcplatform_core::api_key::ApiKeyScope;
    use mcplatform_core::crypto::NewSecretToken;
    use mcplatform_core::ids::{McpServerId, OrgId};
    use mcplatform_core::mcp_server::{McpServerSettings, Slug};
    use mcplatform_store::testing::TestDatabase;
    use mcplatform_store::{NewApiKey, PageRequest, StoreError};

    use super::{org, t, user};

    fn new_key(
        org: OrgId,
        server: Option<McpServerId>,
        scopes: Vec<ApiKeyScope>,
    ) -> (NewApiKey, NewSecretToken) {
        let token = NewSecretToken::generate("mcpk_");
        let key = NewApiKey {
            organization_id: org,
            mcp_server_id: server,
            name: "ci".into(),
            visible_prefix: "mcpk_abcd".into(),
            token_hash: token.hash.clone(),
            scopes,
            created_by: None,
        };
        (key, token)
    }

    #[tokio::test]
    async fn keys_are_found_by_secret_until_revoked_and_stay_in_their_organization() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let evil = org(&store, "Evil", ada).await;
        let server = store
            .create_mcp_server(
                acme,
                &Slug::parse("acme").unwrap(),
                &McpServerSettings::new("Acme").unwrap(),
                t(0),
            )
            .await
            .unwrap();

        let scopes = vec![ApiKeyScope::TelemetryWrite, ApiKeyScope::AuthIntrospect];
        let (new, token) = new_key(acme, Some(server.id), scopes.clone());
        let key = store.create_api_key(&new, t(1)).await.unwrap();
        assert_eq!((key.scopes.clone(), key.mcp_server_id), (scopes, Some(server.id)));
        assert_eq!(store.find_active_api_key(&token.hash).await.unwrap(), Some(key.clone()));

        // A server of another organization cannot get a key through this one.
        let foreign = store
            .create_api_key(
                &new_key(evil, Some(server.id), vec![ApiKeyScope::TelemetryWrite]).0,
                t(1),
            )
            .await;
        assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
        assert!(matches!(store.get_api_key(evil, key.id).await, Err(StoreError::NotFound)));
        assert!(matches!(
            store.revoke_api_key(evil, key.id, t(2)).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.list_api_keys(evil, PageRequest::ALL).await.unwrap().items.is_empty());

        store.record_api_key_usage(&[(key.id, t(5)), (key.id, t(3))]).await.unwrap();
        assert_eq!(
            store.get_api_key(acme, key.id).await.unwrap().last_used_at,
            Some(t(5)),
            "never backwards"
        );

        store.revoke_api_key(acme, key.id, t(6)).await.unwrap();
        assert_eq!(store.find_active_api_key(&token.hash).await.unwrap(), None);
        assert!(matches!(
            store.revoke_api_key(acme, key.id, t(7)).await,
            Err(StoreError::NotFound)
        ));
        let listed = store.list_api_keys(acme, PageRequest::ALL).await.unwrap().items;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(t(6)));

        // Deleting the server takes its keys.
        let (org_key, _) = new_key(acme, None, vec![ApiKeyScope::Management]);
        store.create_api_key(&org_key, t(8)).await.unwrap();
        store.delete_mcp_server(acme, server.id).await.unwrap();
        let remaining = store.list_api_keys(acme, PageRequest::ALL).await.unwrap().items;
        assert_eq!(remaining.iter().map(|k| k.mcp_server_id).collect::<Vec<_>>(), vec![None]);
    }
}

mod audit {
    use mcplatform_core::audit::{NewAuditEvent, action};
    use mcplatform_core::ids::OrgId;
    use mcplatform_store::testing::TestDatabase;
    use mcplatform_store::{AuditFilter, PageRequest};

    use super::{org, t, user};

    fn event(
        org: Option<OrgId>,
        actor: Option<mcplatform_core::ids::UserId>,
        action: &'static str,
    ) -> NewAuditEvent {
        NewAuditEvent {
            organization_id: org,
            actor_user_id: actor,
            actor_label: "Ada (ada@example.com)".into(),
            action,
            target: "something".into(),
            detail: "{}".into(),
            ip_address: Some("127.0.0.1".into()),
        }
    }

    #[tokio::test]
    async fn events_are_listed_per_organization_filtered_by_area_and_actor() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let bob = user(&store, "bob@example.com").await;
        let acme = org(&store, "Acme", ada).await;
        let evil = org(&store, "Evil", bob).await;
        let events = [
            (Some(acme), Some(ada), action::SERVER_CREATED),
            (Some(acme), Some(bob), action::MEMBER_INVITED),
            (Some(acme), Some(ada), action::MEMBER_REMOVED),
            (Some(evil), Some(bob), action::SERVER_CREATED),
            (None, Some(ada), action::LOGIN),
        ];
        for (n, (org, actor, action)) in events.into_iter().enumerate() {
            store.record_audit_event(&event(org, actor, action), t(n as i64)).await.unwrap();
        }
        let all = store
            .list_audit_events(acme, &AuditFilter::default(), PageRequest::new(50, 0))
            .await
            .unwrap();
        let actions: Vec<_> = all.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            vec![action::MEMBER_REMOVED, action::MEMBER_INVITED, action::SERVER_CREATED]
        );

        let members = AuditFilter { area: Some("member".into()), actor: None };
        assert_eq!(
            store
                .list_audit_events(acme, &members, PageRequest::new(50, 0))
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        let by_ada = AuditFilter { area: Some("member".into()), actor: Some(ada) };
        assert_eq!(
            store
                .list_audit_events(acme, &by_ada, PageRequest::new(50, 0))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let wildcard = AuditFilter { area: Some("%".into()), actor: None };
        assert!(
            store
                .list_audit_events(acme, &wildcard, PageRequest::new(50, 0))
                .await
                .unwrap()
                .items
                .is_empty(),
            "areas match literally"
        );
        assert_eq!(
            store
                .list_audit_events(acme, &AuditFilter::default(), PageRequest::new(1, 2))
                .await
                .unwrap()
                .items[0]
                .action,
            action::SERVER_CREATED
        );

        let logins = store.list_account_events(ada, PageRequest::new(50, 0)).await.unwrap();
        assert_eq!(
            logins.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec![action::LOGIN]
        );
    }
}

mod password_resets {
    use mcplatform_core::crypto::NewSecretToken;
    use mcplatform_core::user::PasswordHash;
    use mcplatform_store::StoreError;
    use mcplatform_store::testing::TestDatabase;

    use super::{session, t, user};

    #[tokio::test]
    async fn a_reset_link_works_once_before_it_expires_and_ends_every_session() {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let ada = user(&store, "ada@example.com").await;
        let (live, live_token) = session(ada, t(10_000));
        store.create_session(&live).await.unwrap();
        let first = NewSecretToken::generate("mcpr_");
        let second = NewSecretToken::generate("mcpr_");
        let expiring = NewSecretToken::generate("mcpr_");
        store.create_password_reset(ada, &first.hash, t(0), t(3600)).await.unwrap();
        store.create_password_reset(ada, &second.hash, t(0), t(3600)).await.unwrap();
        store.create_password_reset(ada, &expiring.hash, t(0), t(10)).await.unwrap();

        assert!(matches!(
            store
                .complete_password_reset(&expiring.hash, &PasswordHash::from_phc("x".into()), t(10))
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.find_password_reset_user(&first.hash, t(5)).await.unwrap().unwrap().id,
            ada
        );

        let new_hash = PasswordHash::from_phc("$argon2id$new".into());
        let user = store.complete_password_reset(&first.hash, &new_hash, t(20)).await.unwrap();
        assert_eq!(user.password_hash, Some(new_hash.clone()));
        assert_eq!(
            store.find_session(&live_token.hash, t(21)).await.unwrap(),
            None,
            "sessions ended"
        );
        assert!(
            matches!(
                store.complete_password_reset(&first.hash, &new_hash, t(21)).await,
                Err(StoreError::NotFound)
            ),
            "once"
        );
        assert!(
            matches!(
                store.complete_password_reset(&second.hash, &new_hash, t(21)).await,
                Err(StoreError::NotFound)
            ),
            "other links died too"
        );
        assert_eq!(store.find_password_reset_user(&second.hash, t(21)).await.unwrap(), None);
    }
}

fn github_provider(org: OrgId, name: &str) -> mcplatform_core::identity_provider::IdentityProvider {
    use mcplatform_core::identity_provider::{
        IdentityProvider, ProviderInput, ProviderKind, ProviderSettings,
    };
    let input =
        ProviderInput { name: name.into(), client_id: "Iv1.x".into(), ..ProviderInput::default() };
    IdentityProvider {
        id: mcplatform_core::ids::IdentityProviderId::new(),
        organization_id: org,
        kind: ProviderKind::Github,
        settings: ProviderSettings::parse(ProviderKind::Github, &input).unwrap(),
        sealed_client_secret: vec![1, 2, 3],
        created_at: t(0),
        updated_at: t(0),
    }
}

#[tokio::test]
async fn a_server_signs_in_only_with_its_own_organizations_provider_which_stays_while_used() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let evil = org(&store, "Evil", ada).await;
    let acme_github = github_provider(acme, "GitHub");
    let evil_github = github_provider(evil, "GitHub");
    store.create_identity_provider(&acme_github).await.unwrap();
    store.create_identity_provider(&evil_github).await.unwrap();
    let custom = |provider| McpServerSettings {
        auth_mode: AuthMode::CustomOauth,
        identity_provider_id: Some(provider),
        ..settings("Acme Docs")
    };

    let slug = Slug::parse("acme-docs").unwrap();
    let stolen = store.create_mcp_server(acme, &slug, &custom(evil_github.id), t(1)).await;
    assert!(matches!(stolen, Err(StoreError::NotFound)), "{stolen:?}");
    assert!(store.find_mcp_server_by_slug(&slug).await.unwrap().is_none(), "nothing stored");

    let server = store.create_mcp_server(acme, &slug, &custom(acme_github.id), t(1)).await.unwrap();
    assert_eq!(server.settings.identity_provider_id, Some(acme_github.id));
    let stolen = store.update_mcp_server(acme, server.id, &custom(evil_github.id), t(2)).await;
    assert!(matches!(stolen, Err(StoreError::NotFound)), "{stolen:?}");
    assert_eq!(store.get_mcp_server(acme, server.id).await.unwrap(), server, "unchanged");

    let in_use = store.delete_identity_provider(acme, acme_github.id).await;
    assert!(matches!(in_use, Err(StoreError::Conflict("in_use"))), "{in_use:?}");
    assert_eq!(store.servers_using_identity_provider(acme, acme_github.id).await.unwrap(), [slug]);
    store.update_mcp_server(acme, server.id, &settings("Acme Docs"), t(3)).await.unwrap();
    store.delete_identity_provider(acme, acme_github.id).await.unwrap();
}

mod hosting {
    use mcplatform_core::hosting::{
        IdentitySource, McpRequestRecord, McpSession, RequestOutcome, SessionKind, TrackingId,
        TrackingLink,
    };
    use mcplatform_core::ids::{McpRequestId, McpServerId, OrgId};
    use mcplatform_core::support::SupportTicket;
    use mcplatform_store::testing::TestDatabase;
    use mcplatform_store::{PageRequest, StoreError, TicketChange, TicketFilter, TicketSort};
    use serde_json::json;

    use super::{org, settings, t, user};

    fn session(
        id: &str,
        org: OrgId,
        server: McpServerId,
        user: Option<mcplatform_core::ids::EndUserId>,
    ) -> McpSession {
        McpSession {
            id: id.into(),
            organization_id: org,
            mcp_server_id: server,
            end_user_id: user,
            identity_source: if user.is_some() {
                IdentitySource::Tracking
            } else {
                IdentitySource::None
            },
            kind: SessionKind::Stateful,
            protocol_version: "2025-11-25".into(),
            client_name: Some("cursor".into()),
            client_version: Some("1.0".into()),
            ip: None,
            user_agent: None,
            derivation_key: None,
            first_seen_at: t(0),
            last_seen_at: t(0),
            closed_at: None,
        }
    }

    fn record(
        org: OrgId,
        server: McpServerId,
        session: &str,
        user: Option<mcplatform_core::ids::EndUserId>,
        at: i64,
    ) -> McpRequestRecord {
        McpRequestRecord {
            id: McpRequestId::new(),
            organization_id: org,
            mcp_server_id: server,
            session_id: Some(session.into()),
            end_user_id: user,
            identity_source: mcplatform_core::hosting::IdentitySource::None,
            method: "tools/call".into(),
            tool_name: Some("get_support".into()),
            jsonrpc_id: Some("1".into()),
            protocol_version: Some("2025-11-25".into()),
            arguments: Some("{}".into()),
            result: None,
            outcome: RequestOutcome::Ok,
            error_code: None,
            error_message: None,
            duration_us: 10,
            started_at: t(at),
        }
    }

    #[tokio::test]
    async fn a_merged_end_user_brings_links_sessions_requests_and_tickets_and_stays_in_its_organization()
     {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let owner = user(&store, "owner@acme.test").await;
        let acme = org(&store, "Acme", owner).await;
        let globex = org(&store, "Globex", owner).await;
        let slug = mcplatform_core::mcp_server::Slug::parse("acme").unwrap();
        let server =
            store.create_mcp_server(acme, &slug, &settings("Acme"), t(0)).await.unwrap().id;

        let tracked = store.create_end_user(acme, None, Some("Ada"), t(0)).await.unwrap();
        let signed_in =
            store.create_end_user(acme, Some("Ada@Initech.test"), None, t(0)).await.unwrap();
        assert_eq!(signed_in.email.as_deref(), Some("ada@initech.test"));
        let foreign = store.create_end_user(globex, None, None, t(0)).await.unwrap();

        let link = TrackingLink {
            tracking_id: TrackingId::generate(),
            organization_id: acme,
            mcp_server_id: server,
            end_user_id: tracked.id,
            label: Some("Ada".into()),
            created_at: t(0),
            last_used_at: None,
            revoked_at: None,
        };
        store.create_tracking_link(&link).await.unwrap();
        // Another organization's end user cannot be given a link to this server.
        let stolen = TrackingLink {
            tracking_id: TrackingId::generate(),
            end_user_id: foreign.id,
            ..link.clone()
        };
        assert!(matches!(store.create_tracking_link(&stolen).await, Err(StoreError::NotFound)));

        store
            .create_mcp_session(&session("s1", acme, server, Some(tracked.id)), Some("{}"))
            .await
            .unwrap();
        store
            .record_mcp_requests(
                &[
                    record(acme, server, "s1", Some(tracked.id), 5),
                    record(acme, server, "s1", Some(tracked.id), 9),
                ],
                &[],
            )
            .await
            .unwrap();
        let ticket = SupportTicket {
            end_user_id: Some(tracked.id),
            session_id: Some("s1".into()),
            ..crate::support::ticket(acme, server, "Help", 10)
        };
        store.create_support_ticket(&TicketChange::new(ticket.clone())).await.unwrap();
        // A ticket cannot name another organization's end user.
        let crossed = SupportTicket {
            id: mcplatform_core::ids::SupportTicketId::new(),
            end_user_id: Some(foreign.id),
            ..ticket.clone()
        };
        assert!(matches!(
            store.create_support_ticket(&TicketChange::new(crossed)).await,
            Err(StoreError::NotFound)
        ));
        // A ticket from someone nobody identified names no end user.
        let anonymous = SupportTicket {
            id: mcplatform_core::ids::SupportTicketId::new(),
            end_user_id: None,
            session_id: None,
            created_at: t(11),
            ..ticket.clone()
        };
        store.create_support_ticket(&TicketChange::new(anonymous.clone())).await.unwrap();
        assert_eq!(store.get_support_ticket(acme, anonymous.id).await.unwrap().end_user_id, None);

        // The session's last sighting moved with its latest record.
        assert_eq!(store.find_mcp_session("s1").await.unwrap().unwrap().last_seen_at, t(9));

        // Merging across organizations does nothing, and neither does merging someone who ever
        // signed in (their identity is theirs); a placeholder merges, everything of it moves.
        assert!(!store.merge_end_users(acme, foreign.id, signed_in.id).await.unwrap());
        let login = mcplatform_core::end_user::EndUserLogin::new(
            "platform".into(),
            "bob".into(),
            None,
            false,
            None,
            json!({}),
        )
        .unwrap();
        let bob = store.record_end_user_login(acme, &login, t(1)).await.unwrap();
        assert!(!store.merge_end_users(acme, bob.id, signed_in.id).await.unwrap());

        // An address someone proved is not for anyone who only claims it: the unverified
        // lookup passes over the older, verified holder.
        let carol_login = mcplatform_core::end_user::EndUserLogin::new(
            "platform".into(),
            "carol".into(),
            Some("carol@initech.test".into()),
            true,
            None,
            json!({}),
        )
        .unwrap();
        let carol = store.record_end_user_login(acme, &carol_login, t(1)).await.unwrap();
        let claimed =
            store.create_end_user(acme, Some("Carol@Initech.test"), None, t(2)).await.unwrap();
        let any = store.find_end_user_by_email(acme, "carol@initech.test", false).await.unwrap();
        assert_eq!(any.map(|u| u.id), Some(carol.id));
        let unverified =
            store.find_end_user_by_email(acme, "carol@initech.test", true).await.unwrap();
        assert_eq!(unverified.map(|u| u.id), Some(claimed.id));
        // A later login that says nothing of her (the built-in one) keeps what her provider said.
        let said = mcplatform_core::end_user::EndUserLogin::new(
            "platform".into(),
            "carol".into(),
            Some("carol@initech.test".into()),
            true,
            None,
            json!({"groups": ["admins"]}),
        )
        .unwrap();
        store.record_end_user_login(acme, &said, t(3)).await.unwrap();
        let silent = mcplatform_core::end_user::EndUserLogin::new(
            "platform".into(),
            "carol".into(),
            Some("carol@initech.test".into()),
            true,
            None,
            serde_json::Value::Null,
        )
        .unwrap();
        let carol = store.record_end_user_login(acme, &silent, t(4)).await.unwrap();
        assert_eq!(carol.profile, json!({"groups": ["admins"]}));
        assert!(store.get_end_user(acme, bob.id).await.is_ok());
        assert!(store.merge_end_users(acme, tracked.id, signed_in.id).await.unwrap());
        assert!(!store.merge_end_users(acme, tracked.id, signed_in.id).await.unwrap(), "once");
        assert!(matches!(store.get_end_user(acme, tracked.id).await, Err(StoreError::NotFound)));
        let merged = store.get_end_user(acme, signed_in.id).await.unwrap();
        let found =
            store.get_end_users(acme, &[signed_in.id, tracked.id, foreign.id]).await.unwrap();
        assert_eq!(
            found.iter().map(|u| u.id).collect::<Vec<_>>(),
            [signed_in.id],
            "the merged one is gone and Globex's is not Acme's"
        );
        assert_eq!(merged.name.as_deref(), Some("Ada"), "the name it did not have came along");
        let link = store.find_tracking_link(&link.tracking_id).await.unwrap().unwrap();
        assert_eq!(link.end_user_id, signed_in.id);
        assert_eq!(
            store.find_mcp_session("s1").await.unwrap().unwrap().end_user_id,
            Some(signed_in.id)
        );
        let records =
            store.list_session_requests(acme, "s1", PageRequest::new(10, 0)).await.unwrap();
        assert_eq!(records.items.len(), 2);
        assert!(records.items.iter().all(|r| r.end_user_id == Some(signed_in.id)));
        let activity = store
            .list_end_user_activity(acme, Some(server), PageRequest::new(10, 0))
            .await
            .unwrap();
        assert_eq!(activity.items.len(), 1);
        let ada = &activity.items[0];
        assert_eq!((ada.sessions, ada.tool_calls, ada.tickets), (1, 2, 1));
        assert!(ada.has_tracking_link);
        assert_eq!(ada.identified_by(), [IdentitySource::Tracking], "no login, no address given");
        assert_eq!(ada.last_seen_at, Some(t(9)));

        // Nothing of Acme's shows in Globex.
        assert!(
            store
                .list_session_requests(globex, "s1", PageRequest::new(10, 0))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            store
                .list_support_tickets(
                    globex,
                    &TicketFilter::default(),
                    TicketSort::Newest,
                    PageRequest::new(10, 0)
                )
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(matches!(
            store.get_support_ticket(globex, ticket.id).await,
            Err(StoreError::NotFound)
        ));
        let globex_users =
            store.list_end_user_activity(globex, None, PageRequest::new(10, 0)).await.unwrap();
        assert_eq!(
            globex_users.items.iter().map(|a| a.end_user.id).collect::<Vec<_>>(),
            [foreign.id]
        );

        // A record of a server deleted meanwhile, or of another organization's server, is
        // dropped; the rest of its batch is kept, and a batch given twice is stored once.
        let gone = McpServerId::new();
        let kept = record(acme, server, "s1", None, 21);
        let batch = [
            record(acme, gone, "s1", None, 20),
            kept.clone(),
            record(globex, server, "s1", None, 22),
        ];
        store.record_mcp_requests(&batch, &[]).await.unwrap();
        store.record_mcp_requests(&batch, &[]).await.unwrap();
        let records =
            store.list_session_requests(acme, "s1", PageRequest::new(10, 0)).await.unwrap();
        assert_eq!(records.items.len(), 3);
        assert_eq!(records.items[2].id, kept.id);
        assert_eq!(store.find_mcp_session("s1").await.unwrap().unwrap().last_seen_at, t(21));

        // A session is identified only with an end user of its own organization, while open.
        assert!(matches!(
            store.identify_mcp_session("s1", foreign.id, IdentitySource::Email).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.mcp_session_state("s1").await.unwrap().is_some());
        store.close_mcp_session("s1", t(30)).await.unwrap();
        assert_eq!(store.mcp_session_state("s1").await.unwrap(), None, "closed: not restored");
        assert!(matches!(
            store.identify_mcp_session("s1", signed_in.id, IdentitySource::Email).await,
            Err(StoreError::NotFound)
        ));
    }
}
